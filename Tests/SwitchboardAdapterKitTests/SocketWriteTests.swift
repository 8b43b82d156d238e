import Glibc
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardAdapterKit

/// An endpoint that only holds a session: the test queues frames on it.
private final class QuietEndpoint: WebSocketEndpoint {
    let session = Session(connectionID: ConnectionID(9), app: App(id: "1", key: "pk", secrets: ["sk"]), encoder: DataEncoder())
    let maxMessageBytes = 1_000
    func receive(_ message: ByteBuffer) async -> Bool { true }
    func closeFrame() -> (code: UInt16, reason: String?) { (1000, nil) }
    func violated(_ violation: WebSocketViolation) {}
    func closed() async {}
}

/// Where the server's initializer leaves the connection's handler.
private final class HandlerSlot: Sendable {
    let handler = Mutex<WebSocketConnectionHandler?>(nil)
}

/// Frames written by the handler's own system call on a real loopback socket: what a full socket does not take goes
/// through NIO, in order, and nothing is written once the channel is inactive.
@Suite(.serialized) struct SocketWriteTests {
    /// A server on a loopback port whose one connection is a handler writing its socket directly, with a small send
    /// buffer, and a client socket with a small receive buffer that reads only when told.
    fileprivate final class Rig: Sendable {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let endpoint = QuietEndpoint()
        let slot = HandlerSlot()
        let server: any Channel
        let client: Int32

        init(direct: Bool = true) async throws {
            let endpoint = self.endpoint
            let slot = self.slot
            var configuration = WebSocketConnectionHandler.Configuration()
            configuration.writesSocketDirectly = direct
            let settings = configuration
            self.server = try await ServerBootstrap(group: self.group)
                .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let request = Request(
                            head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/", headerFields: [:]),
                            body: .init(buffer: ByteBuffer())
                        )
                        let context = SwitchboardContext(source: .init(channel: channel, logger: Logger(label: "test")))
                        let opener = WebSocketOpener(request: request, context: context) { _, _, _ in .endpoint(endpoint) }
                        let handler = WebSocketConnectionHandler(opener: opener, inflate: nil, eventLoop: channel.eventLoop, configuration: settings)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        slot.handler.withLock { $0 = handler }
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            self.client = try Self.connect(port: self.server.localAddress?.port ?? 0)
            for _ in 0..<400 where self.slot.handler.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(5)) }
        }

        static func connect(port: Int) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var size: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw IOError(errnoCode: errno, reason: "connect") }
            return fd
        }

        /// Reads text frames until `count` have come (or the socket times out), returning their payloads.
        func read(frames count: Int) -> [String] {
            var bytes: [UInt8] = []
            var payloads: [String] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while payloads.count < count {
                let got = recv(self.client, &chunk, chunk.count, 0)
                guard got > 0 else { break }
                bytes += chunk[0..<got]
                var start = 0
                while bytes.count - start >= 2 {
                    var length = Int(bytes[start + 1] & 0x7F)
                    var header = 2
                    if length == 126 {
                        guard bytes.count - start >= 4 else { break }
                        length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
                        header = 4
                    }
                    guard bytes.count - start >= header + length else { break }
                    payloads.append(String(decoding: bytes[(start + header)..<(start + header + length)], as: UTF8.self))
                    start += header + length
                }
                bytes.removeFirst(start)
            }
            return payloads
        }

        /// The handler's socket state, read on its loop.
        func socketState() async throws -> (direct: Bool, inPipeline: Int) {
            let handler = try #require(self.slot.handler.withLock { $0 })
            return try await handler.eventLoop.submit { (handler.socket != nil, handler.socket?.inPipeline ?? 0) }.get()
        }

        func shutdown() async throws {
            close(self.client)
            try? await self.server.close()
            try await self.group.shutdownGracefully()
        }
    }

    static func payload(_ index: Int) -> String { "m\(index)-" + String(repeating: "x", count: 900) }

    @Test func framesAFullSocketHeldBackFollowThroughNIOInOrderAndDirectWritesResumeOnceItDrains() async throws {
        let rig = try await Rig()
        #expect(try await rig.socketState().direct)
        // Far more than the two small buffers hold: the socket fills while the client reads nothing.
        for index in 0..<200 {
            _ = rig.endpoint.session.send(ByteBuffer(string: Self.payload(index)))
            if index % 20 == 19 { try await Task.sleep(for: .milliseconds(2)) }
        }
        var held = 0
        for _ in 0..<400 {
            held = try await rig.socketState().inPipeline
            if held > 0 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(held > 0, "the full socket's rest went through NIO")
        let first = rig.read(frames: 200)
        #expect(first == (0..<200).map(Self.payload))
        for _ in 0..<400 where try await rig.socketState().inPipeline > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await rig.socketState().inPipeline == 0)
        _ = rig.endpoint.session.send(ByteBuffer(string: "after"))
        #expect(rig.read(frames: 1) == ["after"])
        try await rig.shutdown()
    }

    @Test func aListenerWithoutDirectWritesLeavesEveryByteToNIO() async throws {
        let rig = try await Rig(direct: false)
        #expect(try await rig.socketState().direct == false)
        _ = rig.endpoint.session.send(ByteBuffer(string: "through the pipeline"))
        #expect(rig.read(frames: 1) == ["through the pipeline"])
        try await rig.shutdown()
    }

    /// A connected pair of local sockets: the handle a `SocketWrite` is given, and the end that shows what it sent.
    static func socketPair() -> (handle: Int32, peer: Int32) {
        var pair: [Int32] = [0, 0]
        _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair)
        return (pair[0], pair[1])
    }

    static func received(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let got = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return got > 0 ? String(decoding: buffer[0..<got], as: UTF8.self) : ""
    }

    @Test func aHandleWhoseChannelIsInactiveIsNeverWritten() async throws {
        // NIO closes a channel's handle after marking it inactive, and the number may go to another socket at once.
        let (handle, peer) = Self.socketPair()
        defer {
            close(handle)
            close(peer)
        }
        let channel = EmbeddedChannel()
        #expect(!channel.isActive)
        var bytes = ByteBuffer(string: "late")
        #expect(!SocketWrite(handle: handle, channel: channel).send(&bytes))
        #expect(bytes.readableBytes == 4)
        #expect(Self.received(peer) == "")
    }

    @Test func whileNIOHoldsAWriteLaterBytesWaitBehindIt() async throws {
        let (handle, peer) = Self.socketPair()
        defer {
            close(handle)
            close(peer)
        }
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        var socket = SocketWrite(handle: handle, channel: channel)
        socket.inPipeline = 1
        var held = ByteBuffer(string: "second")
        #expect(!socket.send(&held))
        #expect(Self.received(peer) == "")
        socket.inPipeline = 0
        #expect(socket.send(&held))
        #expect(held.readableBytes == 0)
        #expect(Self.received(peer) == "second")
    }

    @Test func aClosedConnectionLetsGoOfItsHandle() async throws {
        let rig = try await Rig()
        let handler = try #require(rig.slot.handler.withLock { $0 })
        let socket = try #require(try await handler.eventLoop.submit { handler.socket }.get())
        try await socket.channel.close()
        #expect(try await rig.socketState().direct == false)
        try await rig.shutdown()
    }
}

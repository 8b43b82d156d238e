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

/// A stream that writes each frame as it is, after an opening line.
private final class PlainStream: EventStream, @unchecked Sendable {
    let session = Session(connectionID: ConnectionID(10), app: App(id: "1", key: "pk", secrets: ["sk"]), encoder: DataEncoder())
    let keepalive = Duration.seconds(60)
    func opening() -> ByteBuffer { ByteBuffer(string: "open\n") }
    func append(_ frame: OutgoingFrame, to batch: inout ByteBuffer) { batch.writeImmutableBuffer(frame.bytes) }
    func began(on eventLoop: any EventLoop) {}
    func ended() {}
}

/// Where the server leaves its connection's writer, and that connection's loop.
private final class WriterSlot: Sendable {
    let writer = Mutex<(writer: any SocketWriting, loop: any EventLoop)?>(nil)
}

/// Installs `install`'s handler once the accepted connection is active (an event stream's writer ends at once on a
/// connection that is not).
private final class InstallOnActive: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let install: @Sendable (ChannelHandlerContext) throws -> Void
    init(_ install: @escaping @Sendable (ChannelHandlerContext) throws -> Void) { self.install = install }

    func channelActive(context: ChannelHandlerContext) {
        try? self.install(context)
        context.fireChannelActive()
    }
}

/// Frames written by the handler's own system call on a real loopback socket: what a full socket does not take goes
/// through NIO, in order, and nothing is written once the channel is inactive.
@Suite(.serialized) struct SocketWriteTests {
    /// A server on a loopback port whose one connection is written by a WebSocket handler or an event stream's writer
    /// (directly or not), with a small send buffer; and a client socket with a small receive buffer that reads only
    /// when told.
    fileprivate final class Rig: Sendable {
        enum Kind { case webSocket, eventStream }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let endpoint = QuietEndpoint()
        let stream = PlainStream()
        let slot = WriterSlot()
        let server: any Channel
        let client: Int32
        var session: Session { self.kind == .webSocket ? self.endpoint.session : self.stream.session }
        let kind: Kind

        init(_ kind: Kind = .webSocket, direct: Bool = true) async throws {
            self.kind = kind
            let (endpoint, stream, slot) = (self.endpoint, self.stream, self.slot)
            var configuration = WebSocketConnectionHandler.Configuration()
            configuration.writesSocketDirectly = direct
            let settings = configuration
            self.server = try await ServerBootstrap(group: self.group)
                .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            InstallOnActive { context in
                                let writer: any SocketWriting & ChannelHandler
                                switch kind {
                                case .webSocket:
                                    let request = Request(
                                        head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/", headerFields: [:]),
                                        body: .init(buffer: ByteBuffer())
                                    )
                                    let source = SwitchboardContext(source: .init(channel: context.channel, logger: Logger(label: "test")))
                                    let opener = WebSocketOpener(request: request, context: source) { _, _, _ in .endpoint(endpoint) }
                                    writer = WebSocketConnectionHandler(
                                        opener: opener,
                                        inflate: nil,
                                        eventLoop: context.eventLoop,
                                        configuration: settings
                                    )
                                case .eventStream:
                                    writer = EventStreamWriter(stream: stream, writesSocketDirectly: direct)
                                }
                                try context.pipeline.syncOperations.addHandler(writer)
                                slot.writer.withLock { $0 = (writer, context.eventLoop) }
                            }
                        )
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            self.client = try Self.connect(port: self.server.localAddress?.port ?? 0)
            for _ in 0..<400 where self.slot.writer.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(5)) }
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

        /// Reads until `parse` finds what it wants in the bytes so far (or the socket times out).
        func read<Result>(until parse: ([UInt8]) -> Result?) -> Result? {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let result = parse(bytes) { return result }
                let got = recv(self.client, &chunk, chunk.count, 0)
                guard got > 0 else { return nil }
                bytes += chunk[0..<got]
            }
        }

        /// The payloads of the first `count` WebSocket text frames.
        func read(frames count: Int) -> [String] {
            self.read { bytes -> [String]? in
                var payloads: [String] = []
                var start = 0
                while payloads.count < count, bytes.count - start >= 2 {
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
                return payloads.count == count ? payloads : nil
            } ?? []
        }

        /// The data of the HTTP/1.1 chunks read until they hold `size` bytes.
        func read(body size: Int) -> String {
            self.read { bytes -> String? in
                var data: [UInt8] = []
                var start = 0
                while data.count < size, let end = bytes[start...].firstIndex(of: 0x0D), end + 1 < bytes.count {
                    guard let length = Int(String(decoding: bytes[start..<end], as: UTF8.self), radix: 16) else { return "bad chunk" }
                    guard bytes.count >= end + 2 + length + 2 else { break }
                    data += bytes[(end + 2)..<(end + 2 + length)]
                    start = end + 2 + length + 2
                }
                return data.count >= size ? String(decoding: data, as: UTF8.self) : nil
            } ?? ""
        }

        /// The writer's socket state, read on its loop.
        func socketState() async throws -> (direct: Bool, inPipeline: Int) {
            let (writer, loop) = try #require(self.slot.writer.withLock { $0 })
            return try await loop.submit { (writer.socket != nil, writer.socket?.inPipeline ?? 0) }.get()
        }

        /// Waits until the writer has bytes held in NIO's pipeline (true) or 2 s have passed.
        func heldInPipeline() async throws -> Bool {
            for _ in 0..<400 {
                if try await self.socketState().inPipeline > 0 { return true }
                try await Task.sleep(for: .milliseconds(5))
            }
            return false
        }

        /// Waits until NIO has written everything it held.
        func drained() async throws -> Bool {
            for _ in 0..<400 where try await self.socketState().inPipeline > 0 { try await Task.sleep(for: .milliseconds(5)) }
            return try await self.socketState().inPipeline == 0
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
        try await Self.fill(rig)
        #expect(try await rig.heldInPipeline(), "the full socket's rest went through NIO")
        #expect(rig.read(frames: 200) == (0..<200).map(Self.payload))
        #expect(try await rig.drained())
        _ = rig.session.send(ByteBuffer(string: "after"))
        #expect(rig.read(frames: 1) == ["after"])
        try await rig.shutdown()
    }

    /// Queues far more than the two small buffers hold, so the socket fills while the client reads nothing.
    fileprivate static func fill(_ rig: Rig) async throws {
        for index in 0..<200 {
            _ = rig.session.send(ByteBuffer(string: Self.payload(index)))
            if index % 20 == 19 { try await Task.sleep(for: .milliseconds(2)) }
        }
    }

    @Test func anEventStreamsChunksAFullSocketHeldBackFollowThroughNIOInOrder() async throws {
        let rig = try await Rig(.eventStream)
        #expect(try await rig.socketState().direct)
        try await Self.fill(rig)
        #expect(try await rig.heldInPipeline(), "the full socket's rest went through NIO")
        let body = "open\n" + (0..<200).map(Self.payload).joined()
        #expect(rig.read(body: body.utf8.count) == body)
        #expect(try await rig.drained())
        _ = rig.session.send(ByteBuffer(string: "after"))
        #expect(rig.read(body: 5) == "after")
        try await rig.shutdown()
    }

    @Test func aListenerWithoutDirectWritesLeavesEveryByteToNIO() async throws {
        for kind in [Rig.Kind.webSocket, .eventStream] {
            let rig = try await Rig(kind, direct: false)
            #expect(try await rig.socketState().direct == false)
            _ = rig.session.send(ByteBuffer(string: "through the pipeline"))
            if kind == .webSocket {
                #expect(rig.read(frames: 1) == ["through the pipeline"])
            } else {
                #expect(rig.read(body: 25) == "open\nthrough the pipeline")
            }
            try await rig.shutdown()
        }
    }

    /// Runs `body` with a connected pair of local sockets, closed after it: the handle a `SocketWrite` is given, and the
    /// end that shows what it sent.
    static func withSocketPair(_ body: (_ handle: Int32, _ peer: Int32) async throws -> Void) async throws {
        var pair: [Int32] = [0, 0]
        _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair)
        defer {
            close(pair[0])
            close(pair[1])
        }
        try await body(pair[0], pair[1])
    }

    static func received(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let got = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return got > 0 ? String(decoding: buffer[0..<got], as: UTF8.self) : ""
    }

    @Test func aHandleWhoseChannelIsInactiveIsNeverWritten() async throws {
        // NIO closes a channel's handle after marking it inactive, and the number may go to another socket at once.
        try await Self.withSocketPair { handle, peer in
            let channel = EmbeddedChannel()
            #expect(!channel.isActive)
            var bytes = ByteBuffer(string: "late")
            #expect(!SocketWrite(handle: handle, channel: channel).send(&bytes))
            #expect(bytes.readableBytes == 4)
            #expect(Self.received(peer) == "")
        }
    }

    @Test func whileNIOHoldsAWriteLaterBytesWaitBehindIt() async throws {
        try await Self.withSocketPair { handle, peer in
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
    }

    @Test func aClosedConnectionLetsGoOfItsHandle() async throws {
        for kind in [Rig.Kind.webSocket, .eventStream] {
            let rig = try await Rig(kind)
            let (writer, loop) = try #require(rig.slot.writer.withLock { $0 })
            let socket = try #require(try await loop.submit { writer.socket }.get())
            try await socket.channel.close()
            #expect(try await rig.socketState().direct == false)
            try await rig.shutdown()
        }
    }
}

import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOWebSocket
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardAdapterKit

/// An endpoint that answers every message with `echo:` and the message, and records what the transport told it.
private final class EchoEndpoint: WebSocketEndpoint {
    let session = Session(connectionID: ConnectionID(7), app: App(id: "1", key: "pk", secrets: ["sk"]), encoder: DataEncoder())
    let maxMessageBytes = 1_000
    let log = Mutex<[String]>([])

    func receive(_ message: ByteBuffer) async -> Bool {
        self.log.withLock { $0.append("message \(String(buffer: message))") }
        self.session.send(ByteBuffer(string: "echo:\(String(buffer: message))"))
        return true
    }

    func closeFrame() -> (code: UInt16, reason: String?) { (4000, "bye") }
    func violated(_ violation: WebSocketViolation) { self.log.withLock { $0.append("violation \(violation.code)") } }
    func closed() async { self.log.withLock { $0.append("closed") } }
}

/// An endpoint subscribed to `room` on `hub`: its message `publish` broadcasts there (itself included), and any other
/// is answered at once with `answer`.
private final class BroadcastingEndpoint: WebSocketEndpoint {
    let session: Session
    let hub: Hub
    let maxMessageBytes = 1_000

    init(hub: Hub, loop: any EventLoop) {
        self.hub = hub
        let app = App(id: "1", key: "pk", secrets: ["sk"])
        self.session = Session(connectionID: ConnectionID(8), app: app, encoder: DataEncoder(), eventLoop: loop)
        hub.add(self.session, app: "1", channel: "room")
    }

    func receive(_ message: ByteBuffer) async -> Bool {
        guard String(buffer: message) == "publish" else {
            self.session.send(ByteBuffer(string: "answer"))
            return true
        }
        let data = ByteBuffer(string: "broadcast")
        self.hub.broadcast(.publication(Publication(app: "1", channel: "room", event: "e", data: data, timestamp: 0)))
        return true
    }

    func closeFrame() -> (code: UInt16, reason: String?) { (1000, nil) }
    func violated(_ violation: WebSocketViolation) {}
    func closed() async {}
}

/// Between the handler and the socket: on its first flush, queues one more message and reports the socket writable,
/// as NIO does when a flush drains the socket below its low watermark.
private final class WritableDuringFlush: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = ByteBuffer
    let endpoint: EchoEndpoint
    var fired = false
    init(_ endpoint: EchoEndpoint) { self.endpoint = endpoint }

    func flush(context: ChannelHandlerContext) {
        if !self.fired {
            self.fired = true
            self.endpoint.session.send(ByteBuffer(string: "second"))
            context.fireChannelWritabilityChanged()
        }
        context.flush()
    }
}

@Suite struct WebSocketConnectionHandlerTests {
    /// A channel whose pipeline is the handler driving `endpoint`, after `socketSide` when given.
    private func channel(
        _ endpoint: EchoEndpoint,
        loop: NIOAsyncTestingEventLoop? = nil,
        socketSide: (any ChannelHandler & Sendable)? = nil
    ) async throws -> NIOAsyncTestingChannel {
        let channel = loop.map { NIOAsyncTestingChannel(loop: $0) } ?? NIOAsyncTestingChannel()
        if let socketSide { try await channel.pipeline.addHandler(socketSide) }
        let request = Request(
            head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/", headerFields: [:]),
            body: .init(buffer: ByteBuffer())
        )
        let context = SwitchboardContext(source: .init(channel: channel, logger: Logger(label: "test")))
        let opener = WebSocketOpener(request: request, context: context) { _, _, _ in .endpoint(endpoint) }
        let handler = WebSocketConnectionHandler(opener: opener, inflate: nil, eventLoop: channel.eventLoop)
        try await channel.pipeline.addHandler(handler)
        return channel
    }

    private func clientFrame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) -> WebSocketFrame {
        let key = WebSocketMaskingKey.random()
        var data = ByteBuffer(string: text)
        data.webSocketMask(key)
        return WebSocketFrame(fin: fin, opcode: opcode, maskKey: key, data: data)
    }

    /// The next frame the server wrote: its first byte and payload.
    private func nextWritten(_ channel: NIOAsyncTestingChannel) async throws -> (first: UInt8, payload: String) {
        var bytes = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        let header = bytes.readBytes(length: 2) ?? [0, 0]
        let (first, length) = (header[0], header[1])
        #expect(length & 0x80 == 0, "server frames are never masked")
        if length == 126 { _ = bytes.readInteger(as: UInt16.self) }
        return (first, String(buffer: bytes))
    }

    private func waitFor(_ endpoint: EchoEndpoint, _ entry: String) async throws {
        for _ in 0..<200 where !endpoint.log.withLock({ $0.contains(entry) }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(endpoint.log.withLock { $0.contains(entry) })
    }

    /// The payloads of every text frame the server has written so far, however the writes grouped them.
    private func writtenPayloads(_ channel: NIOAsyncTestingChannel) async throws -> [String] {
        var payloads: [String] = []
        while var bytes = try await channel.readOutbound(as: ByteBuffer.self) {
            while let header = bytes.readBytes(length: 2) {
                var length = Int(header[1] & 0x7F)
                if length == 126 { length = Int(bytes.readInteger(as: UInt16.self) ?? 0) }
                payloads.append(bytes.readString(length: length) ?? "")
            }
        }
        return payloads
    }

    @Test func aBatchOfMoreConnectionsThanAChunkWritesEachOfThemOnce() async throws {
        let loop = NIOAsyncTestingEventLoop()
        var connections: [(EchoEndpoint, NIOAsyncTestingChannel)] = []
        for _ in 0..<(LoopBatch.chunk * 3 + 5) {
            let endpoint = EchoEndpoint()
            connections.append((endpoint, try await self.channel(endpoint, loop: loop)))
        }
        for (index, (endpoint, _)) in connections.enumerated() { endpoint.session.send(ByteBuffer(string: "m\(index)")) }
        // A second message to the first connections while the batch is under way joins their next write.
        for (endpoint, _) in connections.prefix(3) { endpoint.session.send(ByteBuffer(string: "again")) }
        // Each chunk after the first waits a moment for the loop to poll its sockets: the test loop's clock moves on.
        for _ in 0..<20 { await loop.advanceTime(by: .milliseconds(1)) }
        for (index, (_, channel)) in connections.enumerated() {
            #expect(try await self.writtenPayloads(channel) == (index < 3 ? ["m\(index)", "again"] : ["m\(index)"]))
        }
    }

    @Test func framesQueuedTogetherLeaveInOneWrite() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint, loop: loop)
        try await loop.submit {
            for text in ["one", "two", "three"] { endpoint.session.send(ByteBuffer(string: text)) }
        }.get()
        var write = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        var payloads: [String] = []
        while let header = write.readBytes(length: 2) { payloads.append(write.readString(length: Int(header[1])) ?? "") }
        #expect(payloads == ["one", "two", "three"])
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test func aWritabilityChangeDuringAFlushSendsEachFrameOnce() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint, loop: loop, socketSide: WritableDuringFlush(endpoint))
        try await loop.submit { _ = endpoint.session.send(ByteBuffer(string: "first")) }.get()
        for _ in 0..<5 { await loop.advanceTime(by: .milliseconds(1)) }
        try await loop.submit { _ = endpoint.session.send(ByteBuffer(string: "third")) }.get()
        for _ in 0..<5 { await loop.advanceTime(by: .milliseconds(1)) }
        #expect(try await self.writtenPayloads(channel) == ["first", "second", "third"])
    }

    @Test func aLoopsLagIsTheAgeOfItsOldestUnwrittenFrameAndEndsWithTheBatch() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint, loop: loop)
        let batch = LoopBatch.for(loop)
        let lagBeforeTheWrite = try await loop.submit { () -> TimeAmount in
            endpoint.session.send(ByteBuffer(string: "late"))
            return batch.lag(now: .now() + .milliseconds(50))
        }.get()
        #expect(lagBeforeTheWrite >= .milliseconds(50))
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(try await loop.submit { batch.lag(now: .now() + .milliseconds(50)) }.get() == .zero)
    }

    @Test func theAnswerToAMessageFollowsWhatTheMessageBeforeItBroadcastToTheSameConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let endpoint = BroadcastingEndpoint(hub: Hub(), loop: loop)
        // The loop is busy for a moment, so the broadcast's task waits there while the next message is served.
        let busy = loop.submit { _ = usleep(200_000) }
        let inbox = WebSocketConnectionHandler.Inbox()
        inbox.push(.message(ByteBuffer(string: "publish")), endpoint: endpoint)
        inbox.push(.message(ByteBuffer(string: "ask")), endpoint: endpoint)
        try await busy.get()
        for _ in 0..<400 where inbox.state.withLock({ $0.running }) { try await Task.sleep(for: .milliseconds(5)) }
        try await loop.submit {}.get()
        var frames: [OutgoingFrame] = []
        _ = endpoint.session.takeForWriting(into: &frames)
        #expect(frames.map { String(buffer: $0.bytes) } == ["broadcast", "answer"])
        try await group.shutdownGracefully()
    }

    @Test func pastItsBoundABusyLoopsBroadcastsAreQueuedOnThePublishersThread() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let hub = Hub()
        let endpoint = BroadcastingEndpoint(hub: hub, loop: loop)
        let busy = loop.submit { _ = usleep(500_000) }
        for _ in 0..<(hub.maxInFlight + 10) { _ = await endpoint.receive(ByteBuffer(string: "publish")) }
        var frames: [OutgoingFrame] = []
        _ = endpoint.session.takeForWriting(into: &frames)
        #expect(frames.count == 10, "the broadcasts past the bound, queued at once")
        #expect(LoopBroadcasts.for(loop).pending)
        try await busy.get()
        try await loop.submit {}.get()
        _ = endpoint.session.takeForWriting(into: &frames)
        #expect(frames.count == hub.maxInFlight, "the rest, once the loop ran its tasks")
        #expect(!LoopBroadcasts.for(loop).pending)
        try await group.shutdownGracefully()
    }

    @Test func theWriteBatchIntervalFollowsReloadedLimits() {
        let limits = LiveLimits(.init(writeBatchMilliseconds: 0))
        var interval = WriteBatchInterval()
        interval.limits = limits
        #expect(interval.current == .zero)
        limits.replace(.init(writeBatchMilliseconds: 20))
        #expect(interval.current == .milliseconds(20))
    }

    @Test func aMessageReachesTheEndpointAndItsReplyLeavesAsOneTextFrame() async throws {
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint)
        try await channel.writeInbound(self.clientFrame(.text, "he", fin: false))
        try await channel.writeInbound(self.clientFrame(.continuation, "llo"))
        try await self.waitFor(endpoint, "message hello")
        let reply = try await self.nextWritten(channel)
        #expect(reply.first == 0x81)
        #expect(reply.payload == "echo:hello")
    }

    @Test func aPingIsAnsweredWithAPongCarryingItsPayload() async throws {
        let channel = try await self.channel(EchoEndpoint())
        try await channel.writeInbound(self.clientFrame(.ping, "are you there"))
        let pong = try await self.nextWritten(channel)
        #expect(pong.first == 0x8A)
        #expect(pong.payload == "are you there")
    }

    @Test func theClientsCloseIsEchoedAndTheEndpointToldOnceTheSocketCloses() async throws {
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint)
        var payload = ByteBuffer()
        payload.writeInteger(UInt16(1000))
        let key = WebSocketMaskingKey.random()
        payload.webSocketMask(key)
        try await channel.writeInbound(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: key, data: payload))
        let close = try await self.nextWritten(channel)
        #expect(close.first == 0x88)
        try await self.waitFor(endpoint, "closed")
    }

    @Test func anEndedSessionSendsTheEndpointsCloseFrameAfterItsQueuedFrames() async throws {
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint)
        endpoint.session.send(ByteBuffer(string: "last words"))
        endpoint.session.close(.normal)
        #expect(try await self.nextWritten(channel).payload == "last words")
        let close = try await self.nextWritten(channel)
        #expect(close.first == 0x88)
        #expect(close.payload.hasSuffix("bye"))
    }

    @Test func invalidUTF8InATextMessageClosesWith1007AndIsReported() async throws {
        let endpoint = EchoEndpoint()
        let channel = try await self.channel(endpoint)
        let key = WebSocketMaskingKey.random()
        var data = ByteBuffer(bytes: [0xC3, 0x28])
        data.webSocketMask(key)
        try await channel.writeInbound(WebSocketFrame(fin: true, opcode: .text, maskKey: key, data: data))
        var close = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        close.moveReaderIndex(forwardBy: 2)
        #expect(close.readInteger(as: UInt16.self) == 1007)
        #expect(endpoint.log.withLock { $0 } == ["violation \(WebSocketErrorCode.dataInconsistentWithMessage)"])
    }

    @Test func serverFramesUseTheShortestLengthEncoding() {
        #expect(ServerFrame.text(ByteBuffer(repeating: 0x61, count: 125)).getBytes(at: 0, length: 2) == [0x81, 125])
        #expect(ServerFrame.text(ByteBuffer(repeating: 0x61, count: 126)).getBytes(at: 0, length: 4) == [0x81, 126, 0, 126])
        #expect(ServerFrame.text(ByteBuffer(repeating: 0x61, count: 70_000)).getBytes(at: 0, length: 2) == [0x81, 127])
        #expect(ServerFrame.text(ByteBuffer(string: "x"), compressed: true).getBytes(at: 0, length: 1) == [0xC1])
    }
}

import NIOCore
import NIOEmbedded
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardAdapterKit

@Suite struct EventStreamWriterTests {
    /// A stream that marks each frame, and counts its beginnings and ends.
    final class MarkedStream: EventStream, @unchecked Sendable {
        let session = Session(connectionID: ConnectionID(1), app: App(id: "1", key: "pk", secrets: ["sk"]), encoder: DataEncoder())
        let keepalive: Duration
        var beginnings = 0
        var ends = 0

        init(keepalive: Duration = .seconds(15)) { self.keepalive = keepalive }

        func opening() -> ByteBuffer { ByteBuffer(string: "open\n") }
        func append(_ frame: OutgoingFrame, to batch: inout ByteBuffer) {
            batch.writeString("> ")
            batch.writeImmutableBuffer(frame.bytes)
        }
        func began(on eventLoop: any EventLoop) { self.beginnings += 1 }
        func ended() { self.ends += 1 }
    }

    /// A channel with the writer installed, its opening already read.
    func open(
        _ stream: MarkedStream,
        timeouts: EventStreamWriter.Timeouts = .init(),
        loop: EmbeddedEventLoop = EmbeddedEventLoop()
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.pipeline.syncOperations.addHandler(EventStreamWriter(stream: stream, timeouts: timeouts))
        #expect(try self.body(channel) == "open\n")
        return channel
    }

    /// The data of the next chunk written, which must be one whole HTTP/1.1 chunk in one buffer; nil when nothing was.
    func body(_ channel: EmbeddedChannel) throws -> String? {
        guard let written = try channel.readOutbound(as: ByteBuffer.self) else { return nil }
        let text = String(buffer: written)
        // "\r\n" is one Character in Swift.
        let parts = text.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let size = Int(parts[0], radix: 16) else {
            Issue.record("not a chunk: \(text.debugDescription)")
            return nil
        }
        let data = parts[1]
        #expect(data.utf8.count == size + 2 && data.hasSuffix("\r\n"), "chunk \(text.debugDescription)")
        return String(decoding: data.utf8.dropLast(2), as: UTF8.self)
    }

    /// Nothing more was written.
    func nothingWritten(_ channel: EmbeddedChannel) throws -> Bool { try channel.readOutbound(as: ByteBuffer.self) == nil }

    @Test func framesQueuedBeforeTheLoopRunsLeaveAsOneChunk() throws {
        let stream = MarkedStream()
        let channel = try self.open(stream)
        for text in ["a\n", "b\n", "c\n"] { stream.session.send(ByteBuffer(string: text)) }
        channel.embeddedEventLoop.run()
        #expect(try self.body(channel) == "> a\n> b\n> c\n")
        #expect(try self.nothingWritten(channel))
        #expect(stream.beginnings == 1 && stream.ends == 0)
    }

    @Test func anUnwrittenFrameCountsInItsLoopsWriteLagUntilTheLoopsBatchWritesIt() throws {
        let stream = MarkedStream()
        let channel = try self.open(stream)
        let batch = LoopBatch.for(channel.embeddedEventLoop)
        stream.session.send(ByteBuffer(string: "late\n"))
        // Publishers are paced by this lag (`LoopWriteBacklog`), so a stream that falls behind slows them as a socket does.
        #expect(batch.lag(now: .now() + .milliseconds(50)) >= .milliseconds(50))
        channel.embeddedEventLoop.run()
        #expect(try self.body(channel) == "> late\n")
        #expect(batch.lag(now: .now() + .milliseconds(50)) == .zero)
    }

    @Test func streamsWokenTogetherOnOneLoopAreWrittenByOneBatch() throws {
        let loop = EmbeddedEventLoop()
        let streams = [MarkedStream(), MarkedStream(), MarkedStream()]
        let channels = try streams.map { try self.open($0, loop: loop) }
        for (index, stream) in streams.enumerated() { stream.session.send(ByteBuffer(string: "m\(index)\n")) }
        // One task joins the loop for the three wake-ups, not one each.
        let batch = LoopBatch.for(loop)
        #expect(batch.pending.withLock { ($0.writers.count, $0.scheduled) } == (3, true))
        loop.run()
        for (index, channel) in channels.enumerated() { #expect(try self.body(channel) == "> m\(index)\n") }
        #expect(batch.pending.withLock { ($0.writers.count, $0.scheduled) } == (0, false))
    }

    @Test func theSessionsEndWritesItsLastFramesThenTheBodysEndAndCloses() throws {
        let stream = MarkedStream()
        let channel = try self.open(stream)
        stream.session.close(.normal, farewell: ByteBuffer(string: "bye\n"))
        channel.embeddedEventLoop.run()
        #expect(try self.body(channel) == "> bye\n")
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "0\r\n\r\n", "the last chunk")
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(stream.ends == 1)
    }

    @Test func aKeepaliveCommentGoesOutEveryKeepaliveEvenWhenTheStuckWriteCheckTicksBetween() throws {
        let stream = MarkedStream(keepalive: .seconds(15))
        let channel = try self.open(stream)
        channel.embeddedEventLoop.advanceTime(by: .seconds(14))
        #expect(try self.nothingWritten(channel))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try self.body(channel) == "> : keepalive\n\n")
        channel.embeddedEventLoop.advanceTime(by: .seconds(15))
        #expect(try self.body(channel) == "> : keepalive\n\n")
    }

    @Test func aShortKeepaliveGoesOutOnTime() throws {
        let stream = MarkedStream(keepalive: .seconds(2))
        let channel = try self.open(stream)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try self.body(channel) == "> : keepalive\n\n")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try self.nothingWritten(channel))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try self.body(channel) == "> : keepalive\n\n")
    }

    @Test func aClientThatReadsNothingIsClosedAsTooSlowOnceWritesHaveWaitedTheLiveTimeout() throws {
        let stream = MarkedStream(keepalive: .seconds(5))
        var timeouts = EventStreamWriter.Timeouts()
        timeouts.live = .seconds(20)
        let channel = try self.open(stream, timeouts: timeouts)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        stream.session.send(ByteBuffer(string: "held\n"))
        channel.embeddedEventLoop.run()
        // Nothing is taken while the socket is full: the session's bound decides, or the timeout.
        #expect(try self.nothingWritten(channel))
        channel.embeddedEventLoop.advanceTime(by: .seconds(15))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
        #expect(stream.session.end == .tooSlow)
        #expect(stream.ends == 1)
    }

    @Test func aClientThatShutsItsSideEndsTheStreamOnce() throws {
        let stream = MarkedStream()
        let channel = try self.open(stream)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        #expect(stream.session.end == .normal)
        _ = try? channel.close().wait()
        #expect(stream.ends == 1)
    }

    @Test func anHTTP10StreamIsWrittenAsItIsAndEndsWithTheConnection() throws {
        let stream = MarkedStream()
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.pipeline.syncOperations.addHandler(EventStreamWriter(stream: stream, framing: .untilClose))
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "open\n")
        stream.session.send(ByteBuffer(string: "a\n"))
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "> a\n")
        stream.session.close(.normal)
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self).map(\.readableBytes) ?? 0 == 0)
        #expect(!channel.isActive)
    }

    @Test func aBatchOverTheChunkSizeLeavesAsSeveralWholeChunks() throws {
        let stream = MarkedStream()
        let channel = try self.open(stream)
        let big = String(repeating: "x", count: EventStreamWriter.chunkBytes / 2)
        for _ in 0..<3 { stream.session.send(ByteBuffer(string: big)) }
        channel.embeddedEventLoop.run()
        #expect(try self.body(channel) == "> \(big)> \(big)")
        #expect(try self.body(channel) == "> \(big)")
        #expect(try self.nothingWritten(channel))
    }

    @Test func whatTheClientSendsIsDropped() throws {
        let stream = MarkedStream()
        let channel = try self.open(stream)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive && stream.session.end == nil)
    }
}

import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import SwitchboardEdge

@Suite struct UnreadBodyLimitTests {
    /// A channel with the limit, active, and a request head declaring `length` read.
    func channel(declaring length: Int) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: UnreadBodyLimit(bytes: 1000, time: .seconds(5)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var head = HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/")
        head.headerFields[.contentLength] = "\(length)"
        try channel.writeInbound(HTTPRequestPart.head(head))
        return channel
    }

    func answer(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .unauthorized)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
    }

    func body(_ count: Int) -> HTTPRequestPart { .body(ByteBuffer(repeating: 0x78, count: count)) }

    @Test func aRemainderDeclaredPastTheLimitStopsTheReadingOnceTheAnswerIsSent() throws {
        let channel = try self.channel(declaring: 1_000_000)
        try channel.writeInbound(self.body(10))
        try self.answer(channel)
        #expect(!channel.isActive)
    }

    @Test func aShortRemainderIsReadOnAndTheNextRequestGoesOnTheSameConnection() throws {
        let channel = try self.channel(declaring: 900)
        try self.answer(channel)
        try channel.writeInbound(self.body(900))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test func aBodyWithoutALengthIsCutOncePastTheLimitAfterItsAnswer() throws {
        let channel = EmbeddedChannel(handler: UnreadBodyLimit(bytes: 1000, time: .seconds(5)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/")))
        try channel.writeInbound(self.body(5000))  // before the answer: the handler's to read
        try self.answer(channel)
        try channel.writeInbound(self.body(600))
        #expect(channel.isActive)
        try channel.writeInbound(self.body(600))
        #expect(!channel.isActive)
    }

    @Test func aRemainderDribbledPastTheTimeAfterTheAnswerIsCut() throws {
        let channel = try self.channel(declaring: 900)
        try self.answer(channel)
        for _ in 0..<4 {
            try channel.writeInbound(self.body(1))
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }
}

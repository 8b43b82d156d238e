import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import SwitchboardEdge

@Suite struct HTTP2FrameBudgetTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A frame header and an empty or `length`-byte payload.
    static func frame(type: UInt8, length: Int = 0) -> [UInt8] {
        [UInt8(length >> 16), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, 0, 0, 0, 0, 1] + [UInt8](repeating: 7, count: length)
    }

    /// Feeds `bytes` in reads of `chunk` bytes (frames split anywhere); returns what came out and whether it was reported.
    static func feed(_ bytes: [UInt8], chunk: Int) throws -> (passed: Int, written: [UInt8], reported: Bool, active: Bool) {
        let reported = Mutex(false)
        // The clock stands still: however slowly the frames are fed, the budget does not refill between them.
        let channel = EmbeddedChannel(handler: HTTP2FrameBudget(now: { 1_000 }) { _ in reported.withLock { $0 = true } })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        var passed = 0
        var at = 0
        while at < bytes.count, channel.isActive {
            try channel.writeInbound(ByteBuffer(bytes: bytes[at..<min(at + chunk, bytes.count)]))
            while let read = try channel.readInbound(as: ByteBuffer.self) { passed += read.readableBytes }
            at += chunk
        }
        var written: [UInt8] = []
        while let out = try channel.readOutbound(as: ByteBuffer.self) { written += out.readableBytesView }
        return (passed, written, reported.withLock { $0 }, channel.isActive)
    }

    @Test func requestFramesPassUncountedAndUnchangedHoweverTheyAreSplit() throws {
        let frames = (0..<3_000).flatMap { Self.frame(type: $0 % 2 == 0 ? 0x0 : 0x1, length: $0 % 5) }
        let result = try Self.feed(Self.preface + frames, chunk: 7)
        #expect(result.passed == Self.preface.count + frames.count && !result.reported && result.active)
    }

    @Test func controlFramesPastTheBurstGetGoAwayEnhanceYourCalmAndTheConnectionCloses() throws {
        let frames = (0..<2_100).flatMap { n in Self.frame(type: n % 2 == 0 ? 0xfa : 0x8, length: n % 2 == 0 ? 0 : 4) }
        let result = try Self.feed(Self.preface + frames, chunk: 13)
        #expect(result.reported && !result.active)
        #expect(result.written == [0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb])
        #expect(result.passed < Self.preface.count + frames.count)
    }
}

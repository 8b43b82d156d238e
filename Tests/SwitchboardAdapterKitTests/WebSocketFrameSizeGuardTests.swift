import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import SwitchboardAdapterKit

/// Frames within the limit reach the decoder as sent, however the reads split them; a frame over it reaches the decoder
/// cut to the limit plus one byte, with a header saying so, and the frames after it are untouched.
@Suite struct WebSocketFrameSizeGuardTests {
    /// The guard, then NIOWebSocket's decoder with the listener's 4 MB cap.
    func channel(limit: Int) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameSizeGuard { limit })
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 4 << 20)))
        return channel
    }

    func bytes(_ frames: [WebSocketFrame]) throws -> [UInt8] {
        let encoder = EmbeddedChannel(handler: WebSocketFrameEncoder())
        for frame in frames { try encoder.writeOutbound(frame) }
        var all: [UInt8] = []
        while let part = try encoder.readOutbound(as: ByteBuffer.self) { all += part.readableBytesView }
        _ = try encoder.finish()
        return all
    }

    func frame(_ size: Int, fin: Bool = true, opcode: WebSocketOpcode = .binary) -> WebSocketFrame {
        WebSocketFrame(fin: fin, opcode: opcode, maskKey: .random(), data: ByteBuffer(repeating: UInt8(size % 251), count: size))
    }

    /// Writes `bytes` in reads of `step` bytes; returns the frames the decoder made, unmasked payload sizes.
    func decoded(_ bytes: [UInt8], step: Int, channel: EmbeddedChannel) throws -> [(Int, [UInt8])] {
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + step)
            try channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
        var frames: [(Int, [UInt8])] = []
        while let frame = try channel.readInbound(as: WebSocketFrame.self) {
            frames.append((frame.length, Array(frame.unmaskedData.readableBytesView.prefix(3))))
        }
        return frames
    }

    @Test(arguments: [3, 7, 13, 64])
    func framesWithinTheLimitPassAsSentWhateverTheReads(step: Int) throws {
        let sizes = [0, 5, 125, 126, 1_000, 2_000]
        let frames = sizes.map { self.frame($0) } + [WebSocketFrame(fin: true, opcode: .ping, maskKey: .random(), data: ByteBuffer(string: "p"))]
        let decoded = try self.decoded(try self.bytes(frames), step: step, channel: try self.channel(limit: 2_000))
        #expect(decoded.map(\.0) == sizes + [1])
        #expect(decoded.dropLast().map(\.1) == sizes.map { Array(repeating: UInt8($0 % 251), count: min(3, $0)) })
    }

    @Test(arguments: [1_000, 100_000])
    func framesWithEightByteLengthsPassAsSent(step: Int) throws {
        let sizes = [65_535, 65_536, 70_000]
        let decoded = try self.decoded(try self.bytes(sizes.map { self.frame($0) }), step: step, channel: try self.channel(limit: 70_000))
        #expect(decoded.map(\.0) == sizes)
    }

    @Test(arguments: [7, 4_096, 1 << 20])
    func aFrameOverTheLimitIsCutAndTheNextOneIsWhole(step: Int) throws {
        let frames = [self.frame(10), self.frame(20_000, opcode: .text), self.frame(20)]
        let decoded = try self.decoded(try self.bytes(frames), step: step, channel: try self.channel(limit: 1_000))
        // The cut frame's payload unmasks as the original's first bytes did.
        #expect(decoded.map(\.0) == [10, 1_001, 20])
        #expect(decoded[1].1 == Array(repeating: UInt8(20_000 % 251), count: 3))
    }

    @Test func aFrameOverTheLimitWithAnEightByteLengthIsCut() throws {
        let decoded = try self.decoded(try self.bytes([self.frame(300_000)]), step: 65_536, channel: try self.channel(limit: 1_000))
        #expect(decoded.map(\.0) == [1_001])
    }

    @Test func headersSplitAtEveryByteStillPass() throws {
        let sizes = [0, 125, 126, 300]
        let decoded = try self.decoded(try self.bytes(sizes.map { self.frame($0) }), step: 1, channel: try self.channel(limit: 200))
        #expect(decoded.map(\.0) == [0, 125, 126, 201])
    }

    @Test func theLimitIsAskedAtEachHeaderSoAPlanChangeAppliesToTheNextFrame() throws {
        var limit = 100
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameSizeGuard { limit })
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 4 << 20)))
        #expect(try self.decoded(try self.bytes([self.frame(500)]), step: 64, channel: channel).map(\.0) == [101])
        limit = 1_000
        #expect(try self.decoded(try self.bytes([self.frame(500)]), step: 64, channel: channel).map(\.0) == [500])
    }
}

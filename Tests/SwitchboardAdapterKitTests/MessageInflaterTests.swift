import CompressNIO
import NIOCore
import NIOWebSocket
import Testing

@testable import SwitchboardAdapterKit

/// Compresses client messages as a browser does: one deflate stream whose window carries over between messages.
final class ClientDeflater {
    let compressor: ZlibCompressor

    init() throws { self.compressor = try ZlibCompressor(algorithm: .deflate, configuration: ZlibConfiguration(windowSize: 15)) }

    func frame(_ text: String) throws -> WebSocketFrame {
        var input = ByteBuffer(string: text)
        var output = try input.compressStream(with: self.compressor, flush: .sync)
        output.moveWriterIndex(to: output.writerIndex - 4)
        // As on the wire from a client: masked.
        let key = WebSocketMaskingKey.random()
        output.webSocketMask(key)
        return WebSocketFrame(fin: true, rsv1: true, opcode: .text, maskKey: key, data: output)
    }
}

@Suite struct MessageInflaterTests {
    @Test func compressedMessagesAreInflatedWithTheWindowKeptBetweenThem() throws {
        var inflater = MessageInflater(resetEachMessage: false, maxMessageBytes: 1 << 20)
        let client = try ClientDeflater()
        let message = #"{"action":"publish","channel":"room","data":{"text":"hello hello hello"}}"#
        for _ in 0..<3 {
            let frame = try client.frame(message)
            let inflated = try inflater.inflate(frame.unmaskedData, rsv1: frame.rsv1, fin: frame.fin)
            #expect(String(buffer: inflated) == message)
        }
    }

    @Test func plainFramesPassThroughUntouched() throws {
        var inflater = MessageInflater(resetEachMessage: false, maxMessageBytes: 1 << 20)
        #expect(String(buffer: try inflater.inflate(ByteBuffer(string: "plain"), rsv1: false, fin: true)) == "plain")
    }

    @Test func aMessageInflatingPastTheLimitIsRefusedWith1009() throws {
        var inflater = MessageInflater(resetEachMessage: false, maxMessageBytes: 1000)
        let bomb = try ClientDeflater().frame(String(repeating: "0", count: 100_000))
        #expect(bomb.data.readableBytes < 1000)
        #expect {
            _ = try inflater.inflate(bomb.unmaskedData, rsv1: true, fin: true)
        } throws: { ($0 as? MessageInflater.Failure)?.code == 1009 }
    }

    @Test func corruptCompressedBytesAreRefusedWith1007() throws {
        var inflater = MessageInflater(resetEachMessage: false, maxMessageBytes: 1000)
        #expect {
            _ = try inflater.inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x00, 0x12]), rsv1: true, fin: true)
        } throws: { ($0 as? MessageInflater.Failure)?.code == 1007 }
    }

    @Test func rsv1OnAContinuationFrameIsAProtocolError() throws {
        var inflater = MessageInflater(resetEachMessage: false, maxMessageBytes: 1000)
        _ = try inflater.inflate(ByteBuffer(string: "a"), rsv1: false, fin: false)
        #expect {
            _ = try inflater.inflate(ByteBuffer(string: "b"), rsv1: true, fin: true)
        } throws: { ($0 as? MessageInflater.Failure)?.code == 1002 }
    }
}

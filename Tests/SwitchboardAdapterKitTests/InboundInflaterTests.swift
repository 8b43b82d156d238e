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

@Suite struct InboundInflaterTests {
    @Test func compressedMessagesAreInflatedWithTheWindowKeptBetweenThem() throws {
        let inflater = InboundInflater(resetEachMessage: false, maxMessageBytes: 1 << 20)
        var state = InboundInflater.State()
        let client = try ClientDeflater()
        let message = #"{"action":"publish","channel":"room","data":{"text":"hello hello hello"}}"#
        for _ in 0..<3 {
            let frame = try inflater.inflate(try client.frame(message), state: &state)
            #expect(String(buffer: frame.unmaskedData) == message)
            #expect(!frame.rsv1)
        }
    }

    @Test func plainFramesPassThroughUntouched() throws {
        let inflater = InboundInflater(resetEachMessage: false, maxMessageBytes: 1 << 20)
        var state = InboundInflater.State()
        let frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "plain"))
        #expect(String(buffer: try inflater.inflate(frame, state: &state).data) == "plain")
    }

    @Test func aMessageInflatingPastTheLimitIsRefused() throws {
        let inflater = InboundInflater(resetEachMessage: false, maxMessageBytes: 1000)
        var state = InboundInflater.State()
        let bomb = try ClientDeflater().frame(String(repeating: "0", count: 100_000))
        #expect(bomb.data.readableBytes < 1000)
        #expect(throws: NIOWebSocketError.invalidFrameLength) { try inflater.inflate(bomb, state: &state) }
    }
}

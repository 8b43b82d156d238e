import CompressNIO
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOEmbedded
import NIOWebSocket
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization
import Testing

/// Wraps the deflater to count how often a broadcast is compressed.
final class CountingCompressor: FrameCompressor {
    let deflater: FrameDeflater
    let calls = Atomic<Int>(0)

    init(minBytes: Int = 256) { self.deflater = FrameDeflater(minBytes: minBytes) }

    func compress(_ frame: ByteBuffer) -> ByteBuffer? {
        self.calls.add(1, ordering: .relaxed)
        return self.deflater.compress(frame)
    }
}

/// Inflates one permessage-deflate payload as a client does (RFC 7692 §7.2.2).
func inflate(_ payload: ByteBuffer) throws -> String {
    var data = payload
    data.writeBytes([0, 0, 0xFF, 0xFF])
    let decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
    return String(buffer: try data.decompressStream(with: decompressor))
}

let largeMessage = "{\"text\":\"" + String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 40) + "\"}"

func broadcast(_ data: String, to hub: Hub) {
    hub.broadcast(.publication(Publication(app: "1", channel: "room", data: ByteBuffer(string: data), timestamp: 0)))
}

@Suite struct FrameDeflaterTests {
    let app = App(id: "1", key: "pk", secrets: ["sk"])

    func session(_ id: UInt64, compressor: (any FrameCompressor)?) -> Session {
        Session(connectionID: ConnectionID(id), app: self.app, encoder: DataEncoder(), compressor: compressor)
    }

    @Test func broadcastIsDeflatedOnceAndTheSameBytesGoToEveryCompressingSession() throws {
        let hub = Hub()
        let compressor = CountingCompressor()
        let compressing = (1...5).map { self.session($0, compressor: compressor) }
        let plain = (6...7).map { self.session($0, compressor: nil) }
        for session in compressing + plain { hub.add(session, app: "1", channel: "room") }

        broadcast(largeMessage, to: hub)

        #expect(compressor.calls.load(ordering: .relaxed) == 1)
        let frames = compressing.map { $0.takeQueued() }
        #expect(frames.allSatisfy { $0.count == 1 && $0[0].compressed })
        let first = try #require(frames.first?.first)
        #expect(frames.allSatisfy { $0[0].bytes == first.bytes })
        #expect(first.bytes.readableBytes < largeMessage.utf8.count / 4)
        #expect(try inflate(first.bytes) == largeMessage)
        for session in plain {
            let queued = session.takeQueued()
            #expect(queued.count == 1 && !queued[0].compressed && String(buffer: queued[0].bytes) == largeMessage)
        }
    }

    @Test func messagesBelowTheThresholdGoOutPlain() {
        let hub = Hub()
        let session = self.session(1, compressor: CountingCompressor(minBytes: 256))
        hub.add(session, app: "1", channel: "room")
        broadcast("{\"short\":true}", to: hub)
        let queued = session.takeQueued()
        #expect(queued.count == 1 && !queued[0].compressed && String(buffer: queued[0].bytes) == "{\"short\":true}")
    }

    @Test func everyMessageIsCompressedWithoutContextFromTheLast() throws {
        let deflater = FrameDeflater(minBytes: 1)
        let first = try #require(deflater.compress(ByteBuffer(string: largeMessage)))
        let second = try #require(deflater.compress(ByteBuffer(string: largeMessage)))
        #expect(first == second)
        #expect(try inflate(second) == largeMessage)
    }

    @Test func repliesOfACompressingSessionAreCompressedToo() throws {
        let session = self.session(1, compressor: FrameDeflater())
        session.send(ByteBuffer(string: largeMessage))
        let queued = session.takeQueued()
        #expect(queued.count == 1 && queued[0].compressed)
        #expect(try inflate(queued[0].bytes) == largeMessage)
    }

    @Test func wireFramesSetRSV1OnlyOnCompressedFrames() throws {
        let compressed = try self.written(compressor: FrameDeflater())
        #expect(compressed.first == 0xC1)
        #expect(try inflate(compressed.payload) == largeMessage)
        let plain = try self.written(compressor: nil)
        #expect(plain.first == 0x81)
        #expect(String(buffer: plain.payload) == largeMessage)
    }

    /// The first byte and payload of the WebSocket frame written for one large delivery to a session with `compressor`.
    func written(compressor: FrameDeflater?) throws -> (first: UInt8, payload: ByteBuffer) {
        let session = self.session(1, compressor: compressor)
        let hub = Hub()
        hub.add(session, app: "1", channel: "room")
        broadcast(largeMessage, to: hub)
        let frame = try #require(session.takeQueued().first)
        var wire = frame.wire ?? ServerFrame.text(frame.bytes, compressed: frame.compressed)
        let header = wire.readBytes(length: 2) ?? [0, 0]
        let (first, length) = (header[0], header[1])
        if length == 126 { _ = wire.readInteger(as: UInt16.self) } else if length == 127 { _ = wire.readInteger(as: UInt64.self) }
        return (first, wire)
    }
}

@Suite struct PerMessageDeflateNegotiationTests {
    func request(_ extensions: [String]) -> Request {
        var fields = HTTPFields()
        fields[values: .secWebSocketExtensions] = extensions
        return Request(
            head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/", headerFields: fields),
            body: .init(buffer: ByteBuffer())
        )
    }

    func app(compression: Bool) -> App {
        var app = App(id: "1", key: "pk", secrets: ["sk"])
        app.websocketCompression = compression
        return app
    }

    @Test func anAcceptedOfferIsAnsweredWithServerNoContextTakeover() throws {
        let offer = try #require(PerMessageDeflateOffer.first(in: self.request(["permessage-deflate; client_max_window_bits"]).headers))
        #expect(offer.response == "permessage-deflate; server_no_context_takeover")
        let strict = try #require(
            PerMessageDeflateOffer.first(in: self.request(["permessage-deflate; client_no_context_takeover; server_no_context_takeover"]).headers)
        )
        #expect(strict.response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test func offersTheEdgeCannotHonourAreDeclined() {
        #expect(PerMessageDeflateOffer.first(in: self.request(["permessage-deflate; server_max_window_bits=10"]).headers) == nil)
        #expect(PerMessageDeflateOffer.first(in: self.request(["permessage-deflate; unknown_parameter"]).headers) == nil)
        #expect(PerMessageDeflateOffer.first(in: self.request(["x-webkit-deflate-frame"]).headers) == nil)
        #expect(PerMessageDeflateOffer.first(in: self.request([]).headers) == nil)
        // A later acceptable offer is taken.
        #expect(
            PerMessageDeflateOffer.first(in: self.request(["permessage-deflate; server_max_window_bits=9", "permessage-deflate"]).headers) != nil
        )
    }

    @Test func onlyAnAppWithCompressionOnAgreesAndOnlyItsConnectionGetsTheDeflater() throws {
        let compression = WebSocketCompression()
        let offered = self.request(["permessage-deflate; client_max_window_bits"])
        let off = EmbeddedChannel()
        #expect(compression.upgradeHeaders(offered, app: self.app(compression: false), channel: off).isEmpty)
        #expect(compression.compressor(channel: off) == nil)
        let silent = EmbeddedChannel()
        #expect(compression.upgradeHeaders(self.request([]), app: self.app(compression: true), channel: silent).isEmpty)
        #expect(compression.compressor(channel: silent) == nil)
        let on = EmbeddedChannel()
        let headers = compression.upgradeHeaders(offered, app: self.app(compression: true), channel: on)
        #expect(headers[.secWebSocketExtensions] == "permessage-deflate; server_no_context_takeover")
        #expect(compression.compressor(channel: on) === compression.deflater)
        _ = try on.finish()
        #expect(compression.compressor(channel: on) == nil)
    }
}

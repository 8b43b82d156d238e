import CompressNIO
public import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization

/// Inflates the compressed messages a client sends after permessage-deflate was agreed; never compresses.
///
/// Outbound compression is the hub's (`FrameDeflater`, once per broadcast), written with RSV1 by
/// `WebSocketSessionWriter`; the library's own writes (closes, pongs, refusals) stay plain. The zlib
/// stream is made on the first compressed frame, so clients that offer compression and never use it cost nothing.
struct InboundInflater: WebSocketExtension {
    /// A zlib inflate stream, only touched under `state`'s lock.
    final class Stream: @unchecked Sendable {
        let decompressor: ZlibDecompressor

        init() throws { self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15) }
    }

    struct State {
        var stream: Stream?
        /// A message is being received (its first frame came, its last did not).
        var inMessage = false
        /// The message being received is compressed (its first frame had RSV1).
        var compressed = false
        /// Inflated bytes of the message so far.
        var size = 0
    }

    /// The connection's inflation state; the extension value is copied, the state is shared.
    final class Shared: Sendable {
        let state = Mutex(State())
    }

    /// Why an inbound message was refused; the library closes the connection on it.
    struct InflateFailure: Error, CustomStringConvertible {
        var description: String
    }

    let name = PerMessageDeflateOffer.name
    /// The client resets its window after each message, so the inflater may too.
    let resetEachMessage: Bool
    /// The largest message, once inflated.
    let maxMessageBytes: Int
    private let shared = Shared()

    init(resetEachMessage: Bool, maxMessageBytes: Int) {
        self.resetEachMessage = resetEachMessage
        self.maxMessageBytes = maxMessageBytes
    }

    var reservedBits: WebSocketFrame.ReservedBits { .rsv1 }

    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        try self.shared.state.withLock { state in try self.inflate(frame, state: &state) }
    }

    func inflate(_ frame: WebSocketFrame, state: inout State) throws -> WebSocketFrame {
        if !state.inMessage {
            state.inMessage = true
            state.compressed = frame.rsv1
            state.size = 0
        } else if frame.rsv1 {
            throw InflateFailure(description: "RSV1 on a continuation frame")
        }
        if frame.fin { state.inMessage = false }
        guard state.compressed else { return frame }
        let stream = try state.stream ?? Stream()
        state.stream = stream
        var data = frame.unmaskedData
        // RFC 7692 §7.2.2: the sender dropped the sync flush's empty block; put it back before inflating.
        if frame.fin { data.writeBytes([0, 0, 0xFF, 0xFF]) }
        let inflated: ByteBuffer
        do {
            inflated = try data.decompressStream(with: stream.decompressor, maxSize: self.maxMessageBytes - state.size + 1)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw NIOWebSocketError.invalidFrameLength
        } catch {
            throw InflateFailure(description: "corrupt compressed message: \(error)")
        }
        state.size += inflated.readableBytes
        guard state.size <= self.maxMessageBytes else { throw NIOWebSocketError.invalidFrameLength }
        if frame.fin, self.resetEachMessage { try stream.decompressor.reset() }
        var plain = frame
        plain.data = inflated
        plain.maskKey = nil
        plain.rsv1 = false
        return plain
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame { frame }

    func shutdown() async {}
}

/// Negotiates inbound permessage-deflate for the WebSocket library without answering it: the routes add the
/// response header, per app (`WebSocketCompression`), because the library negotiates extensions per server.
struct InboundInflaterBuilder: WebSocketExtensionBuilder {
    static let name = PerMessageDeflateOffer.name
    let maxMessageBytes: Int

    func clientRequestHeader() -> String { "" }

    func serverReponseHeader(to: WebSocketExtensionHTTPParameters) -> String? { nil }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        guard let offer = PerMessageDeflateOffer(request) else { return nil }
        return InboundInflater(resetEachMessage: offer.clientNoContextTakeover, maxMessageBytes: self.maxMessageBytes)
    }

    func clientExtension(from: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? { nil }
}

extension WebSocketExtensionFactory {
    /// Inflates compressed client messages (up to `maxMessageBytes` each, inflated) once permessage-deflate is
    /// agreed; the response header and outbound compression are Switchboard's own (see `WebSocketCompression`).
    public static func inboundPerMessageDeflate(maxMessageBytes: Int) -> WebSocketExtensionFactory {
        .init { InboundInflaterBuilder(maxMessageBytes: maxMessageBytes) }
    }
}

import CompressNIO
import NIOCore

/// Inflates the compressed messages a client sends once permessage-deflate was agreed (RFC 7692); never compresses.
///
/// Outbound compression is the hub's (`FrameDeflater`, once per broadcast). The zlib stream is made on the first
/// compressed frame, so a client that offers compression and never uses it costs nothing.
struct MessageInflater {
    /// Why a compressed message was refused: the connection is closed with `code`.
    struct Failure: Error {
        var code: UInt16
        var detail: String
    }

    /// A zlib inflate stream; only ever touched on the connection's event loop.
    final class Stream {
        let decompressor: ZlibDecompressor

        init() throws { self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15) }
    }

    /// The client resets its window after each message, so the inflater may too.
    let resetEachMessage: Bool
    /// The largest message, once inflated; set between messages when the plan changes.
    var maxMessageBytes: Int
    private var stream: Stream?
    /// A message is being received (its first frame came, its last did not).
    private var inMessage = false
    /// The message being received is compressed (its first frame had RSV1).
    private var compressed = false
    /// Inflated bytes of the message so far.
    private var size = 0

    init(resetEachMessage: Bool, maxMessageBytes: Int) {
        self.resetEachMessage = resetEachMessage
        self.maxMessageBytes = maxMessageBytes
    }

    /// The payload of one message frame (already unmasked) as the application sees it.
    mutating func inflate(_ data: ByteBuffer, rsv1: Bool, fin: Bool) throws(Failure) -> ByteBuffer {
        if !self.inMessage {
            self.inMessage = true
            self.compressed = rsv1
            self.size = 0
        } else if rsv1 {
            throw Failure(code: 1002, detail: "RSV1 on a continuation frame")
        }
        if fin { self.inMessage = false }
        guard self.compressed else { return data }
        do {
            let stream = try self.stream ?? Stream()
            self.stream = stream
            var data = data
            // RFC 7692 §7.2.2: the sender dropped the sync flush's empty block; put it back before inflating.
            if fin { data.writeBytes([0, 0, 0xFF, 0xFF]) }
            let inflated: ByteBuffer
            do {
                inflated = try data.decompressStream(with: stream.decompressor, maxSize: self.maxMessageBytes - self.size + 1)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                throw Failure(code: 1009, detail: "message over \(self.maxMessageBytes) bytes once inflated")
            }
            self.size += inflated.readableBytes
            guard self.size <= self.maxMessageBytes else {
                throw Failure(code: 1009, detail: "message over \(self.maxMessageBytes) bytes once inflated")
            }
            if fin, self.resetEachMessage { try stream.decompressor.reset() }
            return inflated
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(code: 1007, detail: "corrupt compressed message")
        }
    }
}

import CompressNIO
import NIOCore

extension Bench {
    /// Inflates the permessage-deflate messages of a subscriber that agreed to `server_no_context_takeover`.
    final class SubscriberInflater {
        private let decompressor: ZlibDecompressor

        init() throws { self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15) }

        /// The plain payload of one compressed, unfragmented message.
        func inflate(_ payload: ByteBuffer) throws -> ByteBuffer {
            var data = payload
            // RFC 7692 §7.2.2: put back the sync flush's empty block the sender dropped.
            data.writeBytes([0, 0, 0xFF, 0xFF])
            defer { try? self.decompressor.reset() }
            return try data.decompressStream(with: self.decompressor)
        }
    }
}

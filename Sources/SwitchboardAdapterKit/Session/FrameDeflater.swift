import CompressNIO
public import NIOCore
public import SwitchboardCore
import Synchronization

/// Deflates WebSocket message payloads for permessage-deflate with `server_no_context_takeover` (RFC 7692).
///
/// Every message is a fresh deflate stream, so one message's compressed bytes are the same for every
/// subscriber: the hub deflates a broadcast once and writes those bytes to every compressing session.
/// Payloads below `minBytes`, or that do not shrink, go out plain (RSV1 clear), as RFC 7692 allows.
public final class FrameDeflater: FrameCompressor {
    /// One zlib stream, used by one thread at a time: taken from and returned to the pool under its lock.
    final class Stream: @unchecked Sendable {
        let compressor: ZlibCompressor

        init() throws {
            self.compressor = try ZlibCompressor(
                algorithm: .deflate,
                configuration: ZlibConfiguration(windowSize: 15, compressionLevel: 6, memoryLevel: 8)
            )
        }
    }

    /// Payloads shorter than this go out plain.
    public let minBytes: Int
    /// Streams kept for reuse: a deflate stream costs ~256 KB to set up, and broadcasts run on a few threads at once.
    private let pool = Mutex<[Stream]>([])
    private let poolLimit = 8

    /// Creates a deflater that leaves payloads shorter than `minBytes` uncompressed.
    public init(minBytes: Int = 256) {
        self.minBytes = max(1, minBytes)
    }

    /// The permessage-deflate payload of `frame` (a sync-flushed raw deflate stream without its final
    /// `00 00 ff ff`), or nil when `frame` is short, does not shrink, or zlib fails.
    public func compress(_ frame: ByteBuffer) -> ByteBuffer? {
        guard frame.readableBytes >= self.minBytes else { return nil }
        guard let stream = self.pool.withLock({ $0.popLast() }) ?? (try? Stream()) else { return nil }
        defer {
            if (try? stream.compressor.reset()) != nil {
                self.pool.withLock { pool in
                    if pool.count < self.poolLimit { pool.append(stream) }
                }
            }
        }
        var input = frame
        guard var output = try? input.compressStream(with: stream.compressor, flush: .sync), output.readableBytes >= 4 else { return nil }
        output.moveWriterIndex(to: output.writerIndex - 4)
        guard output.readableBytes < frame.readableBytes else { return nil }
        return output
    }
}

public import NIOCore

/// Compresses frames for subscribers that negotiated it (WebSocket permessage-deflate).
///
/// Each call must compress independently of every other (no shared window), so the hub can compress a
/// broadcast's frame once and hand the same bytes to every subscriber using this compressor.
public protocol FrameCompressor: AnyObject, Sendable {
    /// The compressed payload of `frame`, or nil when it goes out as is (too small to be worth it, or no smaller).
    func compress(_ frame: ByteBuffer) -> ByteBuffer?
}

public import NIOCore

/// Turns a bus message into one wire format's frame bytes.
///
/// The hub calls it once per broadcast per encoder type that has subscribers, then hands
/// the same bytes to every subscriber using that encoder.
public protocol FrameEncoder: Sendable {
    /// The wire protocol's short name (`pusher`, `jsonaction`, `jwt`, `sse`), for counts per protocol.
    var protocolName: String { get }
    /// The frame for `message`, or nil when this wire format does not show it.
    func frame(for message: BusMessage) -> ByteBuffer?
    /// The bytes a transport writes for `frame` (compressed or not), when this format's transport frames messages
    /// (WebSocket); built once per broadcast so no subscriber frames it again. Nil by default.
    func wire(_ frame: ByteBuffer, compressed: Bool) -> ByteBuffer?
}

extension FrameEncoder {
    /// No transport framing unless the encoder adds it.
    public func wire(_ frame: ByteBuffer, compressed: Bool) -> ByteBuffer? { nil }
}

/// What happened to a frame handed to a subscriber.
public enum EnqueueResult: Sendable, Equatable {
    /// Queued for writing.
    case queued
    /// The subscriber's queue was full: it is being closed as too slow.
    case overflow
    /// The subscriber is already closed.
    case closed
}

/// One local subscription target as the bus sees it: a connection with a bounded queue of ready frames.
///
/// `deliver` must never block: it queues and returns, so one slow client never slows a broadcast.
public protocol Subscriber: AnyObject, Sendable {
    /// The connection this subscriber belongs to.
    var connectionID: ConnectionID { get }
    /// The wire format of this subscriber; subscribers sharing an encoder type share encoded bytes.
    var encoder: any FrameEncoder { get }
    /// The event loop that writes this subscriber's frames: broadcasts reach it in one task per loop, which queues on
    /// it there. Nil (the default) takes frames on the broadcasting thread.
    var eventLoop: (any EventLoop)? { get }
    /// Queues `frame`, the encoding of `message`, for writing.
    @discardableResult
    func deliver(_ frame: ByteBuffer, of message: BusMessage) -> EnqueueResult
    /// Compresses this subscriber's frames; nil (the default) takes them plain.
    var compressor: (any FrameCompressor)? { get }
    /// Queues `message` as `compressed` (from `compressor`, shared with other subscribers) or, when nil, as `frame`.
    @discardableResult
    func deliver(_ frame: ByteBuffer, compressed: ByteBuffer?, of message: BusMessage) -> EnqueueResult
    /// Queues `message` as the hub prepared it for every subscriber of this wire format and compressor.
    @discardableResult
    func deliver(_ frame: PreparedFrame, of message: BusMessage) -> EnqueueResult
    /// The hub no longer lists this subscriber on `channel`; broadcasts already on their way to it from there may
    /// still arrive, and are dropped, so the adapter's reply to the unsubscribe is the channel's last frame.
    func left(channel: String)
    /// The hub is about to list this subscriber on `channel` again: its broadcasts are wanted once more.
    func joined(channel: String)
    /// Whether presence changes of `channel` are wanted (a JWT subscription hears joins and leaves only when it asked);
    /// asked once per presence broadcast, never for a publication.
    func hears(presenceOf channel: String) -> Bool
    /// Starts fetching the queue the next delivery appends to, without waiting: the hub calls it a few subscribers
    /// ahead, once the subscriber's own first cache lines are on their way.
    func prefetchQueue()
}

/// One broadcast's frame for one wire format (and compressor), shared by every subscriber that takes it.
///
/// A class, so a subscriber's queue holds one reference per delivery rather than a copy of every field (and a
/// reference count for each buffer in it).
public final class PreparedFrame: Sendable {
    /// The encoder's frame, or its compressed form.
    public let bytes: ByteBuffer
    /// `bytes` is compressed (permessage-deflate).
    public let compressed: Bool
    /// The whole frame as the transport writes it (`FrameEncoder.wire`), when the encoder's transport frames messages.
    public let wire: ByteBuffer?
    /// The message's channel and, for a publication, its offset there: read once per broadcast, so a session queues
    /// the frame without copying the message apart again for each subscriber.
    public let channel: String?
    public let offset: UInt64?

    /// A prepared frame.
    public init(bytes: ByteBuffer, compressed: Bool = false, wire: ByteBuffer? = nil, channel: String? = nil, offset: UInt64? = nil) {
        self.bytes = bytes
        self.compressed = compressed
        self.wire = wire
        self.channel = channel
        self.offset = offset
    }
}

extension Subscriber {
    /// No event loop: frames are queued on the broadcasting thread.
    public var eventLoop: (any EventLoop)? { nil }

    /// No compression unless the subscriber negotiated it.
    public var compressor: (any FrameCompressor)? { nil }

    /// A subscriber that takes frames on the broadcasting thread has none on their way once it is removed.
    public func left(channel: String) {}

    public func joined(channel: String) {}

    /// Every presence change is wanted unless the subscriber says otherwise.
    public func hears(presenceOf channel: String) -> Bool { true }

    /// Nothing to fetch unless the subscriber keeps its queue apart from itself.
    public func prefetchQueue() {}

    /// A subscriber without a compressor only ever takes the plain frame.
    @discardableResult
    public func deliver(_ frame: ByteBuffer, compressed: ByteBuffer?, of message: BusMessage) -> EnqueueResult {
        self.deliver(frame, of: message)
    }

    /// A subscriber that writes no transport framing takes the prepared frame's bytes.
    @discardableResult
    public func deliver(_ frame: PreparedFrame, of message: BusMessage) -> EnqueueResult {
        self.deliver(frame.bytes, of: message)
    }
}

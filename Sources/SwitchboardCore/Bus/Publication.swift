public import NIOCore

/// Identifies one client connection on this node; used for "don't echo to sender" and presence.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// The raw number, unique for the life of the process.
    public let raw: UInt64

    /// Wraps a raw number.
    public init(_ raw: UInt64) { self.raw = raw }

    public var description: String { String(self.raw) }
}

/// Where a message sits in its channel's stream; a new epoch means history was lost.
public struct StreamPosition: Sendable, Hashable {
    /// The message's sequence number in its channel, starting at 1.
    public var offset: UInt64
    /// Names one unbroken run of offsets; it changes when the stream's history is lost.
    public var epoch: String

    /// Creates a position.
    public init(offset: UInt64, epoch: String) {
        self.offset = offset
        self.epoch = epoch
    }
}

/// One message on the bus. `data` is the JSON bytes as published: never re-parsed on the hot path.
public struct Publication: Sendable {
    /// The app the channel belongs to.
    public var app: String
    /// The channel name, the same in every protocol.
    public var channel: String
    /// The event name, or nil for an unnamed message.
    public var event: String?
    /// The payload as JSON bytes.
    public var data: ByteBuffer
    /// The publishing user, when known.
    public var userID: String?
    /// The publishing connection, which does not receive its own message.
    public var sender: ConnectionID?
    /// Set by the engine when the channel keeps history.
    public var position: StreamPosition?
    /// Milliseconds since the Unix epoch at publish time.
    public var timestamp: Int64
    /// When this node accepted the message (monotonic), for the publish-to-delivery latency; nil for other nodes' messages.
    public var publishedAt: ContinuousClock.Instant? = nil
    /// Tags besides `event` (Centrifugo's `pub.tags`); empty, and free to carry, for almost every publication.
    /// Protocols without tags ignore them.
    public var tags: [String: String]
    /// The publishing client's id as its protocol shows it (Centrifugo's `info.client`); nil for server publications.
    public var clientID: String?
    /// The publishing connection's info (a JWT connection token's `info` claim) as JSON bytes, when it has one.
    public var connInfo: ByteBuffer?

    /// Creates a publication; the engine assigns `position`.
    public init(
        app: String,
        channel: String,
        event: String? = nil,
        data: ByteBuffer,
        userID: String? = nil,
        sender: ConnectionID? = nil,
        position: StreamPosition? = nil,
        timestamp: Int64,
        tags: [String: String] = [:],
        clientID: String? = nil,
        connInfo: ByteBuffer? = nil
    ) {
        self.app = app
        self.channel = channel
        self.event = event
        self.data = data
        self.userID = userID
        self.sender = sender
        self.position = position
        self.timestamp = timestamp
        self.tags = tags
        self.clientID = clientID
        self.connInfo = connInfo
    }
}

/// Everything the bus fans out to a channel's subscribers.
public enum BusMessage: Sendable {
    /// A published message.
    case publication(Publication)
    /// A member joined, changed or left the channel's presence.
    case presence(PresenceChange)

    /// The app of the channel this message goes to.
    public var app: String {
        switch self {
        case .publication(let p): p.app
        case .presence(let c): c.app
        }
    }

    /// The channel this message goes to.
    public var channel: String {
        switch self {
        case .publication(let p): p.channel
        case .presence(let c): c.channel
        }
    }

    /// A publication's offset in its channel's history, if the engine gave it one.
    public var offset: UInt64? {
        switch self {
        case .publication(let p): p.position?.offset
        case .presence: nil
        }
    }

    /// The connection that must not receive this message, if any: a publication's sender, a presence change's cause.
    public var sender: ConnectionID? {
        switch self {
        case .publication(let p): p.sender
        case .presence(let c): c.cause
        }
    }
}

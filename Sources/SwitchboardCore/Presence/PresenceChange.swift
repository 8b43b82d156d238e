public import NIOCore

/// One member of a channel's presence set: a user, however many connections it has.
public struct PresenceMember: Sendable, Equatable {
    /// The user id the member is keyed by.
    public var userID: String
    /// The member's metadata as JSON bytes (`null` when none was given).
    public var metadata: ByteBuffer
    /// Milliseconds since the Unix epoch when the member was last heard from: a join, an update, a heartbeat, or (in a
    /// member list) a connection still holding it.
    public var lastSeen: Int64
    /// In a member list, what each of its holders joined with: protocols that list clients, not users (the JWT
    /// protocol, as Centrifugo does), show one entry per holder. Empty in changes.
    public var holders: [ByteBuffer]

    /// Creates a member.
    public init(userID: String, metadata: ByteBuffer, lastSeen: Int64, holders: [ByteBuffer] = []) {
        self.userID = userID
        self.metadata = metadata
        self.lastSeen = lastSeen
        self.holders = holders
    }
}

/// A change to a channel's presence set, fanned out to the channel like a publication.
public struct PresenceChange: Sendable {
    /// What happened to the member, or to one of its connections.
    public enum Kind: String, Sendable {
        case join, update, leave
        /// A connection joined (or left) a member other holders keep: the member is unchanged, so protocols keyed by
        /// user say nothing, and those keyed by client (JWT join/leave pushes) announce the client.
        case connectionJoin, connectionLeave

        /// Whether the member set itself changed, which is what users-keyed protocols, webhooks and observers hear of.
        public var changesMember: Bool { self != .connectionJoin && self != .connectionLeave }
    }

    /// The app of the channel.
    public var app: String
    /// The channel.
    public var channel: String
    /// What happened.
    public var kind: Kind
    /// The member as it is after the change (as it was, for a leave).
    public var member: PresenceMember
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    /// The connection whose join caused the change, which is not told of it: a Pusher joiner learns the members from
    /// its `subscription_succeeded`, never from a `member_added` for itself. Nil (everyone is told) unless asked for.
    public var cause: ConnectionID?
    /// What the joining or leaving holder itself joined with, where that is not the member's metadata (a leave by the
    /// last of several connections, a connection-level change); client-keyed protocols name that client.
    public var holderMetadata: ByteBuffer?

    /// Creates a change.
    public init(
        app: String,
        channel: String,
        kind: Kind,
        member: PresenceMember,
        timestamp: Int64,
        cause: ConnectionID? = nil,
        holderMetadata: ByteBuffer? = nil
    ) {
        self.app = app
        self.channel = channel
        self.kind = kind
        self.member = member
        self.timestamp = timestamp
        self.cause = cause
        self.holderMetadata = holderMetadata
    }

    /// The change a store reports when `userID`'s metadata became `metadata` at `now`.
    public static func updated(app: String, channel: String, userID: String, metadata: ByteBuffer, now: Int64) -> PresenceChange {
        let member = PresenceMember(userID: userID, metadata: metadata, lastSeen: now)
        return PresenceChange(app: app, channel: channel, kind: .update, member: member, timestamp: now)
    }
}

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

    /// Creates a member.
    public init(userID: String, metadata: ByteBuffer, lastSeen: Int64) {
        self.userID = userID
        self.metadata = metadata
        self.lastSeen = lastSeen
    }
}

/// A change to a channel's presence set, fanned out to the channel like a publication.
public struct PresenceChange: Sendable {
    /// What happened to the member.
    public enum Kind: String, Sendable {
        case join, update, leave
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

    /// Creates a change.
    public init(app: String, channel: String, kind: Kind, member: PresenceMember, timestamp: Int64, cause: ConnectionID? = nil) {
        self.app = app
        self.channel = channel
        self.kind = kind
        self.member = member
        self.timestamp = timestamp
        self.cause = cause
    }

    /// The change a store reports when `userID`'s metadata became `metadata` at `now`.
    public static func updated(app: String, channel: String, userID: String, metadata: ByteBuffer, now: Int64) -> PresenceChange {
        let member = PresenceMember(userID: userID, metadata: metadata, lastSeen: now)
        return PresenceChange(app: app, channel: channel, kind: .update, member: member, timestamp: now)
    }
}

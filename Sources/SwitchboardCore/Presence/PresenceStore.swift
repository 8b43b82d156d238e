public import NIOCore

/// Who joined a presence set: a live connection, or a server that must keep sending heartbeats.
public enum PresenceHolder: Sendable, Hashable {
    /// A client connection; the membership lasts while the connection does.
    case connection(ConnectionID)
    /// A server-side join through the REST API; it expires without a heartbeat.
    case server

    /// Held by a connection, which vouches for the member for as long as it is open.
    public var isConnection: Bool {
        if case .connection = self { return true }
        return false
    }
}

/// Members per channel: a user with several connections is one member, joined on the first, left on the last.
///
/// Memory implementation now; a shared-store implementation lets several nodes see one list.
public protocol PresenceStore: Sendable {
    /// Adds `holder` to the user's membership; returns the change to announce, if any: a join, an update, or a
    /// `connectionJoin` for a connection joining a member others hold. A new member when the channel already has
    /// `maxMembers` throws `BusError.presenceFull`, checked in the same step as the join, so joins that race (on several
    /// threads or nodes) cannot pass the cap together.
    func join(
        app: String,
        channel: String,
        userID: String,
        metadata: ByteBuffer,
        holder: PresenceHolder,
        maxMembers: Int,
        now: Int64
    ) async throws
        -> PresenceChange?
    /// Replaces a member's metadata without leave/join; returns the change, or nil when unknown or unchanged.
    func update(app: String, channel: String, userID: String, metadata: ByteBuffer, now: Int64) async throws -> PresenceChange?
    /// Removes `holder` from the user's membership; returns a leave when it was the last holder, a `connectionLeave` when
    /// a connection leaves a member others still hold. Either carries what the holder joined with.
    func leave(app: String, channel: String, userID: String, holder: PresenceHolder, now: Int64) async throws -> PresenceChange?
    /// The channel's members, each `lastSeen` when a holder last vouched for it (an open connection does at all times),
    /// with what each holder joined with.
    func members(app: String, channel: String) async throws -> [PresenceMember]
    /// How many members the channel has and whether `userID` is one: what a join holds the member cap to, read without
    /// the members (reading them for every join would make filling a channel cost the square of its size).
    func headcount(app: String, channel: String, userID: String) async throws -> (members: Int, includes: Bool)
    /// Drops server-side joins not heard from since `now - maxAge` milliseconds; returns the leaves.
    func expire(now: Int64, maxAge: Int64) async throws -> [PresenceChange]
}

extension PresenceStore {
    /// A join with no member cap.
    public func join(
        app: String,
        channel: String,
        userID: String,
        metadata: ByteBuffer,
        holder: PresenceHolder,
        now: Int64
    ) async throws -> PresenceChange? {
        try await self.join(app: app, channel: channel, userID: userID, metadata: metadata, holder: holder, maxMembers: .max, now: now)
    }
}

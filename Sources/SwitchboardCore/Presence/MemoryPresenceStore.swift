public import NIOCore
import Synchronization

/// The embedded presence store: one dictionary per channel under one lock.
public final class MemoryPresenceStore: PresenceStore {
    struct Record {
        var member: PresenceMember
        /// Each holder and what it joined with.
        var holders: [PresenceHolder: ByteBuffer]
    }

    struct Key: Hashable {
        var app: String
        var channel: String
    }

    private let state = Mutex<[Key: [String: Record]]>([:])

    /// Creates an empty store.
    public init() {}

    public func join(
        app: String,
        channel: String,
        userID: String,
        metadata: ByteBuffer,
        holder: PresenceHolder,
        maxMembers: Int,
        now: Int64
    ) throws(BusError)
        -> PresenceChange?
    {
        let (full, change) = self.join(app, channel, userID, metadata, holder, maxMembers, now)
        if full { throw .presenceFull(maxMembers) }
        return change
    }

    /// A join with no member cap, which cannot be refused.
    public func join(app: String, channel: String, userID: String, metadata: ByteBuffer, holder: PresenceHolder, now: Int64) -> PresenceChange? {
        self.join(app, channel, userID, metadata, holder, .max, now).change
    }

    /// The join under the store's lock; `full` when the user is new and the channel has `maxMembers` already.
    private func join(
        _ app: String,
        _ channel: String,
        _ userID: String,
        _ metadata: ByteBuffer,
        _ holder: PresenceHolder,
        _ maxMembers: Int,
        _ now: Int64
    ) -> (full: Bool, change: PresenceChange?) {
        let key = Key(app: app, channel: channel)
        return self.state.withLock { channels in
            // Changed in place: a copy of the channel's members (or of a member's holders) per join would cost their number.
            guard let index = channels[key]?.index(forKey: userID) else {
                if channels[key]?.count ?? 0 >= maxMembers { return (true, nil) }
                let member = PresenceMember(userID: userID, metadata: metadata, lastSeen: now)
                channels[key, default: [:]][userID] = Record(member: member, holders: [holder: metadata])
                return (false, PresenceChange(app: app, channel: channel, kind: .join, member: member, timestamp: now))
            }
            let others = channels[key]?.values[index].holders.keys.contains { $0 != holder } ?? false
            let added = channels[key]?.values[index].holders.updateValue(metadata, forKey: holder) == nil
            channels[key]?.values[index].member.lastSeen = now
            // A connection joining a member others hold keeps its metadata, as Pusher shows a user's first connection's:
            // a second tab, or anyone claiming the same user id, cannot rewrite it. The app's server may.
            if others, holder != .server {
                guard added, let member = channels[key]?.values[index].member else { return (false, nil) }
                let change = PresenceChange(
                    app: app,
                    channel: channel,
                    kind: .connectionJoin,
                    member: member,
                    timestamp: now,
                    holderMetadata: metadata
                )
                return (false, change)
            }
            guard let member = channels[key]?.values[index].member, member.metadata != metadata else { return (false, nil) }
            channels[key]?.values[index].member.metadata = metadata
            return (false, .updated(app: app, channel: channel, userID: userID, metadata: metadata, now: now))
        }
    }

    public func update(app: String, channel: String, userID: String, metadata: ByteBuffer, now: Int64) -> PresenceChange? {
        let key = Key(app: app, channel: channel)
        return self.state.withLock { channels in
            guard var record = channels[key]?[userID] else { return nil }
            record.member.lastSeen = now
            let changed = record.member.metadata != metadata
            record.member.metadata = metadata
            channels[key]?[userID] = record
            return changed ? PresenceChange(app: app, channel: channel, kind: .update, member: record.member, timestamp: now) : nil
        }
    }

    public func leave(app: String, channel: String, userID: String, holder: PresenceHolder, now: Int64) -> PresenceChange? {
        let key = Key(app: app, channel: channel)
        return self.state.withLock { channels in
            guard let index = channels[key]?.index(forKey: userID), let joined = channels[key]?.values[index].holders.removeValue(forKey: holder),
                let record = channels[key]?.values[index]
            else { return nil }
            guard record.holders.isEmpty else {
                guard holder.isConnection else { return nil }
                return PresenceChange(
                    app: app,
                    channel: channel,
                    kind: .connectionLeave,
                    member: record.member,
                    timestamp: now,
                    holderMetadata: joined
                )
            }
            channels[key]?.remove(at: index)
            if channels[key]?.isEmpty == true { channels[key] = nil }
            return PresenceChange(app: app, channel: channel, kind: .leave, member: record.member, timestamp: now, holderMetadata: joined)
        }
    }

    /// A member one of this node's open connections holds is seen now; a server-side one when last joined or updated.
    public func members(app: String, channel: String) -> [PresenceMember] {
        let now = WallClock.milliseconds()
        return self.state.withLock { channels in
            (channels[Key(app: app, channel: channel)] ?? [:]).values.map { record in
                var member = record.member
                if record.holders.keys.contains(where: \.isConnection) { member.lastSeen = now }
                member.holders = Array(record.holders.values)
                return member
            }
            .sorted { $0.userID < $1.userID }
        }
    }

    public func headcount(app: String, channel: String, userID: String) -> (members: Int, includes: Bool) {
        self.state.withLock { channels in
            let members = channels[Key(app: app, channel: channel)]
            return (members?.count ?? 0, members?[userID] != nil)
        }
    }

    public func expire(now: Int64, maxAge: Int64) -> [PresenceChange] {
        self.state.withLock { channels in
            var leaves: [PresenceChange] = []
            for (key, members) in channels {
                var kept = members
                for (userID, record) in members where record.holders[.server] != nil && now - record.member.lastSeen > maxAge {
                    var updated = record
                    updated.holders[.server] = nil
                    if updated.holders.isEmpty {
                        kept[userID] = nil
                        leaves.append(PresenceChange(app: key.app, channel: key.channel, kind: .leave, member: record.member, timestamp: now))
                    } else {
                        kept[userID] = updated
                    }
                }
                channels[key] = kept.isEmpty ? nil : kept
            }
            return leaves
        }
    }
}

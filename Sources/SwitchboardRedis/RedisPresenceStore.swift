public import NIOCore
public import SwitchboardCore
import Synchronization

/// Presence shared by every node through Redis: the same member list whichever node is asked.
///
/// Per channel (see `RedisKeys`): a hash of members (user id → last seen and metadata), a sorted set of
/// *holders* (`<holder>\0<user>` scored by when the holder was last heard of), a hash of holder counts per
/// user, and a hash of what each holder joined with (the JWT protocol lists clients, not users). A holder is a
/// connection on some node (`c:<node id>:<connection>`) or a server-side join (`s`). A user is one member however
/// many holders it has: joined on the first, left on the last, as in the memory store.
/// Each operation is one Lua script, so two nodes never both announce the same join or leave.
///
/// How a dead node's members go away: connection holders carry no end of their own, so every node re-scores
/// its live connection holders every `refreshInterval` (a third of the presence timeout). `expire(now:maxAge:)`,
/// run by every node's janitor, drops any holder not heard of for `maxAge` (the presence timeout): a server join
/// without a heartbeat, or a connection of a node that stopped refreshing because it died. Whichever node drops
/// a user's last holder gets the leave and publishes it to all. The refresh also re-adds holders Redis lost (a
/// restart without persistence), so live members come back without their clients doing anything.
public final class RedisPresenceStore: PresenceStore {
    struct Held: Sendable {
        var userID: String
        var record: ByteBuffer
        /// What this connection joined with.
        var joined: ByteBuffer
    }

    let connection: RedisConnection
    let keys: RedisKeys
    let nodeID: String
    /// The presence timeout in force, read at each use (SIGHUP may change it).
    let timeout: @Sendable () -> Duration
    /// How often this node re-scores its connection holders: a third of the presence timeout.
    public var refreshInterval: Duration { self.timeout() / 3 }
    /// Presence keys outlive every holder: ten timeouts, at least an hour.
    private var keyTTLMilliseconds: Int64 { max(10 * Self.milliseconds(self.timeout()), 3_600_000) }
    /// Channel id → holder member → what to re-add if Redis lost it; only this node's connection holders.
    private let held = Mutex<[String: [String: Held]]>([:])

    init(connection: RedisConnection, keys: RedisKeys, nodeID: String, timeout: @escaping @Sendable () -> Duration) {
        self.connection = connection
        self.keys = keys
        self.nodeID = nodeID
        self.timeout = timeout
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }

    private func holderID(_ holder: PresenceHolder) -> String {
        switch holder {
        case .server: "s"
        case .connection(let id): "c:\(self.nodeID):\(id.raw)"
        }
    }

    private func record(lastSeen: Int64, metadata: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer(string: "\(lastSeen):")
        var copy = metadata
        out.writeBuffer(&copy)
        return out
    }

    private static func member(userID: String, record: ByteBuffer) -> PresenceMember {
        var input = record
        guard let colon = input.readableBytesView.firstIndex(of: UInt8(ascii: ":")),
            let lastSeen = input.readString(length: colon - input.readerIndex).flatMap({ Int64($0) })
        else {
            return PresenceMember(userID: userID, metadata: ByteBuffer(string: "null"), lastSeen: 0)
        }
        input.moveReaderIndex(forwardBy: 1)
        return PresenceMember(userID: userID, metadata: input, lastSeen: lastSeen)
    }

    /// Members, holders, counts, the channels set (unless `channels` is false), then what each holder joined with.
    private func keyList(_ id: String, channels: Bool = true) -> [String] {
        var list = [self.keys.presenceMembers(id), self.keys.presenceHolders(id), self.keys.presenceCounts(id)]
        if channels { list.append(self.keys.presenceChannels) }
        list.append(self.keys.presenceJoined(id))
        return list
    }

    public func join(
        app: String,
        channel: String,
        userID: String,
        metadata: ByteBuffer,
        holder: PresenceHolder,
        maxMembers: Int,
        now: Int64
    ) async throws
        -> PresenceChange?
    {
        let id = self.keys.channelID(app: app, channel: channel)
        let member = "\(self.holderID(holder))\0\(userID)"
        let record = self.record(lastSeen: now, metadata: metadata)
        let reply = try await RedisEngine.mapped {
            try await self.connection.run(
                RedisScripts.presenceJoin,
                keys: self.keyList(id),
                arguments: [
                    ByteBuffer(string: userID), ByteBuffer(string: member), metadata, ByteBuffer(string: String(now)),
                    ByteBuffer(string: String(self.keyTTLMilliseconds)), ByteBuffer(string: id),
                    ByteBuffer(string: holder == .server ? "1" : "0"), ByteBuffer(string: String(maxMembers)),
                ]
            )
        }
        if reply.string == "full" { throw BusError.presenceFull(maxMembers) }
        if case .connection = holder {
            self.held.withLock { $0[id, default: [:]][member] = Held(userID: userID, record: record, joined: metadata) }
        }
        let changed = PresenceMember(userID: userID, metadata: metadata, lastSeen: now)
        if let parts = reply.elements, parts.count == 2, parts[0].string == "client", let kept = parts[1].bytes {
            let member = PresenceMember(userID: userID, metadata: kept, lastSeen: now)
            return PresenceChange(app: app, channel: channel, kind: .connectionJoin, member: member, timestamp: now, holderMetadata: metadata)
        }
        switch reply.string {
        case "join": return PresenceChange(app: app, channel: channel, kind: .join, member: changed, timestamp: now)
        case "update": return PresenceChange(app: app, channel: channel, kind: .update, member: changed, timestamp: now)
        default: return nil
        }
    }

    public func update(app: String, channel: String, userID: String, metadata: ByteBuffer, now: Int64) async throws -> PresenceChange? {
        let id = self.keys.channelID(app: app, channel: channel)
        let reply = try await RedisEngine.mapped {
            try await self.connection.run(
                RedisScripts.presenceUpdate,
                keys: [self.keys.presenceMembers(id), self.keys.presenceHolders(id)],
                arguments: [
                    ByteBuffer(string: userID), metadata, ByteBuffer(string: String(now)),
                    ByteBuffer(string: "\(self.holderID(.server))\0\(userID)"),
                ]
            )
        }
        let record = self.record(lastSeen: now, metadata: metadata)
        self.held.withLock { held in
            // Changed in place: a copy of the channel's holders per update would cost its size.
            let holders = held[id]?.compactMap { $0.value.userID == userID ? $0.key : nil } ?? []
            for member in holders { held[id]?[member]?.record = record }
        }
        guard reply.string == "update" else { return nil }
        return .updated(app: app, channel: channel, userID: userID, metadata: metadata, now: now)
    }

    public func leave(app: String, channel: String, userID: String, holder: PresenceHolder, now: Int64) async throws -> PresenceChange? {
        let id = self.keys.channelID(app: app, channel: channel)
        let member = "\(self.holderID(holder))\0\(userID)"
        if case .connection = holder {
            self.held.withLock { held in
                held[id]?[member] = nil
                if held[id]?.isEmpty == true { held[id] = nil }
            }
        }
        let reply = try await RedisEngine.mapped {
            try await self.connection.run(
                RedisScripts.presenceLeave,
                keys: self.keyList(id, channels: false),
                arguments: [ByteBuffer(string: userID), ByteBuffer(string: member), ByteBuffer(string: holder.isConnection ? "1" : "0")]
            )
        }
        let parts = reply.elements ?? []
        let joined = parts.last?.bytes.flatMap { $0.readableBytes > 0 ? $0 : nil }
        switch parts.first?.string {
        case "leave" where parts.count == 3:
            guard let record = parts[1].bytes else { return nil }
            let gone = Self.member(userID: userID, record: record)
            return PresenceChange(app: app, channel: channel, kind: .leave, member: gone, timestamp: now, holderMetadata: joined)
        case "client":
            let member = PresenceMember(userID: userID, metadata: joined ?? ByteBuffer(string: "null"), lastSeen: now)
            return PresenceChange(app: app, channel: channel, kind: .connectionLeave, member: member, timestamp: now, holderMetadata: joined)
        default:
            return nil
        }
    }

    /// Each member's `lastSeen` is its record's or, when later, its newest holder's score: a node re-scores its open
    /// connections' holders every `refreshInterval`, so a member a connection holds is seen within that.
    public func headcount(app: String, channel: String, userID: String) async throws -> (members: Int, includes: Bool) {
        let id = self.keys.channelID(app: app, channel: channel)
        let reply = try await RedisEngine.mapped {
            try await self.connection.run(
                RedisScripts.presenceHeadcount,
                keys: [self.keys.presenceMembers(id)],
                arguments: [ByteBuffer(string: userID)]
            )
        }
        let parts = reply.elements ?? []
        guard parts.count == 2, let members = parts[0].int, let includes = parts[1].int else {
            throw RedisError.unexpectedReply("presence headcount returned \(reply)")
        }
        return (Int(members), includes == 1)
    }

    public func members(app: String, channel: String) async throws -> [PresenceMember] {
        let id = self.keys.channelID(app: app, channel: channel)
        let reply = try await RedisEngine.mapped {
            try await self.connection.run(
                RedisScripts.presenceMembers,
                keys: [self.keys.presenceMembers(id), self.keys.presenceHolders(id), self.keys.presenceJoined(id)],
                arguments: []
            )
        }
        let parts = reply.elements ?? []
        let records = parts.first?.elements ?? []
        let holders = parts.count > 1 ? parts[1].elements ?? [] : []
        let joinedList = parts.count > 2 ? parts[2].elements ?? [] : []
        var joined: [String: [ByteBuffer]] = [:]
        for index in stride(from: 0, to: joinedList.count - 1, by: 2) {
            guard let holder = joinedList[index].string, let separator = holder.firstIndex(of: "\0"), let metadata = joinedList[index + 1].bytes
            else { continue }
            joined[String(holder[holder.index(after: separator)...]), default: []].append(metadata)
        }
        var heard: [String: Int64] = [:]
        for index in stride(from: 0, to: holders.count - 1, by: 2) {
            guard let holder = holders[index].string, let separator = holder.firstIndex(of: "\0"),
                let score = holders[index + 1].string.flatMap(Double.init)
            else { continue }
            let user = String(holder[holder.index(after: separator)...])
            heard[user] = max(heard[user] ?? .min, Int64(score))
        }
        var members: [PresenceMember] = []
        for index in stride(from: 0, to: records.count - 1, by: 2) {
            guard let user = records[index].string, let record = records[index + 1].bytes else { continue }
            var member = Self.member(userID: user, record: record)
            if let last = heard[user], last > member.lastSeen { member.lastSeen = last }
            member.holders = joined[user] ?? []
            members.append(member)
        }
        return members.sorted { $0.userID < $1.userID }
    }

    public func expire(now: Int64, maxAge: Int64) async throws -> [PresenceChange] {
        let channels = try await RedisEngine.mapped { try await self.connection.send(RedisCommand("SMEMBERS", self.keys.presenceChannels)) }
        var leaves: [PresenceChange] = []
        for entry in channels.elements ?? [] {
            guard let id = entry.string, let (app, channel) = RedisKeys.parse(channelID: id) else { continue }
            let gone = try await RedisEngine.mapped {
                try await self.connection.run(
                    RedisScripts.presenceExpire,
                    keys: self.keyList(id),
                    arguments: [ByteBuffer(string: String(now - maxAge)), ByteBuffer(string: id)]
                )
            }
            let flat = gone.elements ?? []
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                guard let user = flat[index].string, let record = flat[index + 1].bytes else { continue }
                leaves.append(
                    PresenceChange(app: app, channel: channel, kind: .leave, member: Self.member(userID: user, record: record), timestamp: now)
                )
            }
        }
        return leaves
    }

    /// Re-scores this node's connection holders now; `run` calls it every `refreshInterval`.
    public func refresh(now: Int64) async throws {
        let snapshot = self.held.withLock { $0 }
        for (id, holders) in snapshot where !holders.isEmpty {
            var arguments = [ByteBuffer(string: String(now)), ByteBuffer(string: String(self.keyTTLMilliseconds)), ByteBuffer(string: id)]
            for (member, entry) in holders {
                arguments.append(ByteBuffer(string: member))
                arguments.append(ByteBuffer(string: entry.userID))
                arguments.append(entry.record)
                arguments.append(entry.joined)
            }
            try await RedisEngine.mapped { try await self.connection.run(RedisScripts.presenceRefresh, keys: self.keyList(id), arguments: arguments) }
        }
    }

    /// Refreshes every `refreshInterval` until cancelled; failures (Redis down) are retried at the next tick. It looks
    /// every second at most, so a timeout lowered by SIGHUP is followed before holders refreshed at the old pace expire.
    func runRefresher() async {
        var last = ContinuousClock.now
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: min(self.refreshInterval, .seconds(1)))
            } catch {
                return
            }
            guard ContinuousClock.now - last >= self.refreshInterval else { continue }
            last = ContinuousClock.now
            try? await self.refresh(now: WallClock.milliseconds())
        }
    }
}

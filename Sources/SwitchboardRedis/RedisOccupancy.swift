import NIOCore
import SwitchboardCore
import Synchronization

/// Cluster-wide counts: each node reports its own load per app (`NodeLoad`), and any node sums the others'.
///
/// A node writes `P:occupancy:APP:NODE` (hash channel → subscribers, plus ` connections` → open connections: a space
/// is never in a channel name) every `interval`, with a time to live of a few intervals, and adds itself to
/// `P:occupancy:APP` (set of nodes). A dead node's hash expires; the read scripts then drop it from the set. Right
/// after each report the node reads the other nodes' load of the apps it reported whose plan limits them across nodes
/// (the bus says which: an unlimited app's channels would cost a read each per node per interval) and hands it to the
/// bus. Counts of other nodes are therefore as fresh as `interval`; this node's own are always read live, so a
/// client sees its own subscribe at once.
final class RedisOccupancy: Sendable {
    let connection: RedisConnection
    let keys: RedisKeys
    let nodeID: String
    let interval: Duration
    /// What this node last wrote of each app (field → count), so a report writes only what changed; an app missing
    /// from the next load gets its hash removed.
    private let written = Mutex<[String: [String: Int]]>([:])
    /// Reports since the last full rewrite of every app's hash, which every `fullEvery` reports set right whatever the
    /// changes missed.
    private let sinceFull = Mutex(0)
    static let fullEvery = 30
    /// Where local loads come from and the other nodes' go (the bus); set once the engine is attached.
    private struct BusLink: Sendable {
        let local: @Sendable () -> [String: NodeLoad]
        let elsewhere: @Sendable ([String: NodeLoad]) -> Void
        let wants: @Sendable (String) -> Bool
    }

    /// In a struct, not as bare functions: each read of a function kept as a `Mutex`'s value wraps it in two more
    /// conversion thunks (see `RedisCommandTimer`), and this one is read every second for the life of the node.
    private let bus = Mutex<BusLink?>(nil)
    /// The hash field of a node's open connections of the app.
    static let connectionsField = " connections"
    /// Apps whose other nodes' loads one script call reads.
    static let appsPerRead = 256

    init(connection: RedisConnection, keys: RedisKeys, nodeID: String, interval: Duration = .seconds(1)) {
        self.connection = connection
        self.keys = keys
        self.nodeID = nodeID
        self.interval = interval
    }

    func attach(
        local: @escaping @Sendable () -> [String: NodeLoad],
        elsewhere: @escaping @Sendable ([String: NodeLoad]) -> Void,
        wants: @escaping @Sendable (String) -> Bool = { _ in true }
    ) {
        self.bus.withLock { $0 = BusLink(local: local, elsewhere: elsewhere, wants: wants) }
    }

    /// Reports this node's counts every `interval` until cancelled; a failed report is retried at the next tick.
    func run() async {
        while !Task.isCancelled {
            try? await self.report()
            do { try await Task.sleep(for: self.interval) } catch { return }
        }
    }

    /// Writes this node's current load, removes the hashes of apps it holds nothing of any more, then hands the bus
    /// the other nodes' load of the apps it reported.
    ///
    /// A report writes only the fields that changed since the last one (and renews the hash's time to live), so an app
    /// with many channels costs Redis its changes per interval, not its size; a lost hash, a failed report, and every
    /// `fullEvery`-th report rewrite it whole.
    func report() async throws {
        guard let bus = self.bus.withLock({ $0 }) else { return }
        let local = bus.local()
        let ttl = ByteBuffer(string: String(RedisPresenceStore.milliseconds(self.interval * 5)))
        let full = self.sinceFull.withLock { count in
            defer { count = (count + 1) % Self.fullEvery }
            return count == 0
        }
        do {
            for (app, load) in local {
                var fields = load.channels
                if load.connections > 0 { fields[Self.connectionsField] = load.connections }
                let before = full ? nil : self.written.withLock { $0[app] }
                try await self.write(app: app, fields: fields, over: before, ttl: ttl)
                self.written.withLock { $0[app] = fields }
            }
        } catch {
            self.written.withLock { $0.removeAll() }
            self.sinceFull.withLock { $0 = 0 }
            throw error
        }
        let gone = self.written.withLock { written in
            let gone = Set(written.keys).subtracting(local.keys)
            for app in gone { written[app] = nil }
            return gone
        }
        for app in gone {
            try await self.connection.run(
                Self.remove,
                keys: [self.hash(app: app), self.keys.occupancyNodes(app: app)],
                arguments: [ByteBuffer(string: self.nodeID)]
            )
        }
        bus.elsewhere(try await self.otherNodes(apps: local.keys.filter(bus.wants)))
    }

    /// Writes an app's fields: what changed since `before`, or all of them when there is no `before` or the hash is gone.
    private func write(app: String, fields: [String: Int], over before: [String: Int]?, ttl: ByteBuffer) async throws {
        let keys = [self.hash(app: app), self.keys.occupancyNodes(app: app)]
        let node = ByteBuffer(string: self.nodeID)
        if let before {
            let changed = fields.filter { before[$0.key] != $0.value }
            let removed = before.keys.filter { fields[$0] == nil }
            var arguments = [ttl, node, ByteBuffer(string: String(changed.count))]
            for (field, count) in changed { arguments += [ByteBuffer(string: field), ByteBuffer(string: String(count))] }
            for field in removed { arguments.append(ByteBuffer(string: field)) }
            if try await self.connection.run(Self.change, keys: keys, arguments: arguments).int == 1 { return }
        }
        var arguments = [ttl, node]
        for (field, count) in fields { arguments += [ByteBuffer(string: field), ByteBuffer(string: String(count))] }
        try await self.connection.run(Self.write, keys: keys, arguments: arguments)
    }

    /// The other live nodes' load of each of `apps`, summed; apps nobody else holds are left out.
    func otherNodes(apps: [String]) async throws -> [String: NodeLoad] {
        var loads: [String: NodeLoad] = [:]
        for start in stride(from: 0, to: apps.count, by: Self.appsPerRead) {
            let batch = apps[start..<min(start + Self.appsPerRead, apps.count)]
            let reply = try await self.connection.run(
                Self.readLoads,
                keys: batch.map { self.keys.occupancyNodes(app: $0) },
                arguments: [ByteBuffer(string: self.nodeID)] + batch.map { ByteBuffer(string: self.keys.occupancyHashPrefix(app: $0)) }
            )
            for (app, fields) in zip(batch, reply.elements ?? []) {
                var load = NodeLoad()
                let items = fields.elements ?? []
                var index = 0
                while index + 1 < items.count {
                    if let field = items[index].string, let count = items[index + 1].int, count > 0 {
                        if field == Self.connectionsField { load.connections = Int(count) } else { load.channels[field] = Int(count) }
                    }
                    index += 2
                }
                if load != NodeLoad() { loads[app] = load }
            }
        }
        return loads
    }

    /// Reports one channel at once when this node gains its first or loses its last subscriber of it, so other nodes
    /// deciding whether the channel is occupied cluster-wide (webhooks) do not wait for the next full report.
    func update(app: String, channel: String, count: Int) async throws {
        let ttl = RedisPresenceStore.milliseconds(self.interval * 5)
        try await self.connection.run(
            Self.set,
            keys: [self.hash(app: app), self.keys.occupancyNodes(app: app)],
            arguments: [
                ByteBuffer(string: String(ttl)), ByteBuffer(string: self.nodeID), ByteBuffer(string: channel), ByteBuffer(string: String(count)),
            ]
        )
    }

    /// Subscribers per channel of `app` on every node: `local` for this node plus the other nodes' last reports.
    func channels(app: String, local: [String: Int]) async throws -> [String: Int] {
        let elsewhere = try await self.otherNodes(apps: [app])[app]?.channels ?? [:]
        return local.merging(elsewhere, uniquingKeysWith: +)
    }

    private func hash(app: String) -> String { self.keys.occupancyHashPrefix(app: app) + self.nodeID }

    /// KEYS: the node's hash, the app's node set. ARGV: ttl ms, node id, then channel/count pairs.
    static let write = RedisScript(
        """
        redis.call('del', KEYS[1])
        if #ARGV > 2 then
            for i = 3, #ARGV, 2 do redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1]) end
            redis.call('pexpire', KEYS[1], ARGV[1])
            redis.call('sadd', KEYS[2], ARGV[2])
        end
        return 1
        """
    )

    /// KEYS: the node's hash, the app's node set. ARGV: ttl ms, node id, the number of changed fields, those
    /// field/count pairs, then the fields to remove. Returns 0, changing nothing, when the hash is gone (expired, or
    /// Redis lost it): the caller then writes it whole.
    static let change = RedisScript(
        """
        if redis.call('exists', KEYS[1]) == 0 then return 0 end
        local changed = tonumber(ARGV[3])
        for i = 4, 3 + 2 * changed, 2 do redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1]) end
        for i = 4 + 2 * changed, #ARGV do redis.call('hdel', KEYS[1], ARGV[i]) end
        if redis.call('exists', KEYS[1]) == 1 then
            redis.call('pexpire', KEYS[1], ARGV[1])
            redis.call('sadd', KEYS[2], ARGV[2])
        end
        return 1
        """
    )

    /// KEYS: the node's hash, the app's node set. ARGV: ttl ms, node id, channel, count (0 removes the channel).
    static let set = RedisScript(
        """
        if tonumber(ARGV[4]) > 0 then
            redis.call('hset', KEYS[1], ARGV[3], ARGV[4])
            redis.call('sadd', KEYS[2], ARGV[2])
        else
            redis.call('hdel', KEYS[1], ARGV[3])
        end
        redis.call('pexpire', KEYS[1], ARGV[1])
        return 1
        """
    )

    /// KEYS: the node's hash, the app's node set. ARGV: node id.
    static let remove = RedisScript(
        """
        redis.call('del', KEYS[1])
        redis.call('srem', KEYS[2], ARGV[1])
        return 1
        """
    )

    /// KEYS: the node sets of some apps. ARGV: the asking node, then each app's node hashes' key prefix.
    /// For each app, the sums of every other live node's fields (channels and ` connections`), as field/count pairs;
    /// drops nodes whose hash expired.
    static let readLoads = RedisScript(
        """
        local result = {}
        for a = 1, #KEYS do
            local sums = {}
            for _, node in ipairs(redis.call('smembers', KEYS[a])) do
                if node ~= ARGV[1] then
                    local fields = redis.call('hgetall', ARGV[a + 1] .. node)
                    if #fields == 0 then redis.call('srem', KEYS[a], node) end
                    for i = 1, #fields, 2 do sums[fields[i]] = (sums[fields[i]] or 0) + tonumber(fields[i + 1]) end
                end
            end
            local out = {}
            for field, count in pairs(sums) do
                out[#out + 1] = field
                out[#out + 1] = count
            end
            result[a] = out
        end
        return result
        """
    )
}

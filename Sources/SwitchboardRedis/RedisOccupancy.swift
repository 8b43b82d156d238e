import NIOCore
import Synchronization

/// Cluster-wide subscriber counts: each node reports its own counts per app, and any node sums them on demand.
///
/// A node writes `P:occupancy:APP:NODE` (hash channel → subscribers) every `interval`, with a time to live of a
/// few intervals, and adds itself to `P:occupancy:APP` (set of nodes). A dead node's hash expires; the read
/// script then drops it from the set. Counts of other nodes are therefore as fresh as `interval`; this node's own
/// counts are always read live, so a client sees its own subscribe at once.
final class RedisOccupancy: Sendable {
    let connection: RedisConnection
    let keys: RedisKeys
    let nodeID: String
    let interval: Duration
    /// Apps this node reported channels for last time, so an app that emptied gets its hash removed.
    private let reported = Mutex<Set<String>>([])
    /// Where local counts come from (the bus); set once the engine is attached.
    private let source = Mutex<(@Sendable () -> [String: [String: Int]])?>(nil)

    init(connection: RedisConnection, keys: RedisKeys, nodeID: String, interval: Duration = .seconds(1)) {
        self.connection = connection
        self.keys = keys
        self.nodeID = nodeID
        self.interval = interval
    }

    func attach(_ local: @escaping @Sendable () -> [String: [String: Int]]) { self.source.withLock { $0 = local } }

    /// Reports this node's counts every `interval` until cancelled; a failed report is retried at the next tick.
    func run() async {
        while !Task.isCancelled {
            try? await self.report()
            do { try await Task.sleep(for: self.interval) } catch { return }
        }
    }

    /// Writes this node's current counts, and removes the hashes of apps that have no local subscribers any more.
    func report() async throws {
        guard let local = self.source.withLock({ $0 })?() else { return }
        let ttl = RedisPresenceStore.milliseconds(self.interval * 5)
        for (app, channels) in local {
            var arguments = [ByteBuffer(string: String(ttl)), ByteBuffer(string: self.nodeID)]
            for (channel, count) in channels {
                arguments.append(ByteBuffer(string: channel))
                arguments.append(ByteBuffer(string: String(count)))
            }
            try await self.connection.run(Self.write, keys: [self.hash(app: app), self.keys.occupancyNodes(app: app)], arguments: arguments)
        }
        let gone = self.reported.withLock { reported in
            let gone = reported.subtracting(local.keys)
            reported = Set(local.keys)
            return gone
        }
        for app in gone {
            try await self.connection.run(
                Self.remove,
                keys: [self.hash(app: app), self.keys.occupancyNodes(app: app)],
                arguments: [ByteBuffer(string: self.nodeID)]
            )
        }
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
        let reply = try await self.connection.run(
            Self.read,
            keys: [self.keys.occupancyNodes(app: app)],
            arguments: [ByteBuffer(string: self.keys.occupancyHashPrefix(app: app)), ByteBuffer(string: self.nodeID)]
        )
        var result = local
        let items = reply.elements ?? []
        var index = 0
        while index + 1 < items.count {
            if let channel = items[index].string, let count = items[index + 1].int, count > 0 { result[channel, default: 0] += Int(count) }
            index += 2
        }
        return result
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

    /// KEYS: the app's node set. ARGV: the node hashes' key prefix, the asking node (its counts are read live).
    /// Sums every other live node's counts; drops nodes whose hash expired. Returns channel/count pairs.
    static let read = RedisScript(
        """
        local sums = {}
        for _, node in ipairs(redis.call('smembers', KEYS[1])) do
            if node ~= ARGV[2] then
                local fields = redis.call('hgetall', ARGV[1] .. node)
                if #fields == 0 then redis.call('srem', KEYS[1], node) end
                for i = 1, #fields, 2 do sums[fields[i]] = (sums[fields[i]] or 0) + tonumber(fields[i + 1]) end
            end
        end
        local out = {}
        for channel, count in pairs(sums) do
            out[#out + 1] = channel
            out[#out + 1] = count
        end
        return out
        """
    )
}

import NIOCore
public import SwitchboardCore

/// Usage summed across every node sharing one Redis: each node adds its increments, any node reads the sums.
///
/// Keys (under the engine's prefix, `APP` as `<length>:<app>`, `DAY` as days since 1970-01-01 UTC), each kept 400 days:
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:usage:APP:DAY` | hash | `in.<protocol>`, `out`, `out.<protocol>` (HINCRBY); `peak_connections:<node>`, `peak.<protocol>:<node>` (peaks) |
/// | `P:usage:in:DAY` | hash | app → messages in that day, so month-to-date totals of every app are one read per day |
public final class RedisUsageLedger: UsageLedger {
    let engine: RedisEngine

    /// A ledger on `engine`'s command connection and key prefix.
    public init(engine: RedisEngine) { self.engine = engine }

    func dayKey(app: String, day: UsageDay) -> String { "\(self.engine.keys.prefix):usage:\(app.utf8.count):\(app):\(day.number)" }
    func inKey(day: UsageDay) -> String { "\(self.engine.keys.prefix):usage:in:\(day.number)" }

    public func add(_ batch: UsageBatch) async throws {
        for (app, days) in batch.apps {
            for (day, counts) in days {
                let peaks = counts.peakFields
                var arguments = [app, String(Self.ttlSeconds), String(counts.messagesInTotal), String(peaks.count)]
                for field in peaks {
                    arguments.append("\(field.name):\(self.engine.nodeID)")
                    arguments.append(String(field.value))
                }
                for field in counts.fields {
                    arguments.append(field.name)
                    arguments.append(String(field.value))
                }
                try await RedisEngine.mapped {
                    try await self.engine.commands.run(
                        Self.addScript,
                        keys: [self.dayKey(app: app, day: day), self.inKey(day: day)],
                        arguments: arguments.map { ByteBuffer(string: $0) }
                    )
                }
            }
        }
    }

    public func days(app: String, from: UsageDay, to: UsageDay) async throws -> [UsageDay: UsageCounts] {
        guard from <= to else { return [:] }
        let days = (from.number...to.number).map(UsageDay.init(number:))
        let reply = try await RedisEngine.mapped {
            try await self.engine.commands.run(Self.readScript, keys: days.map { self.dayKey(app: app, day: $0) }, arguments: [])
        }
        var result: [UsageDay: UsageCounts] = [:]
        for (day, hash) in zip(days, reply.elements ?? []) {
            var counts = UsageCounts()
            // Each node keeps its own peaks (`<peak field>:<node>`); the day's peak is their sum, an upper bound.
            var peaks = UsageCounts()
            Self.pairs(hash) { name, value in
                guard name.hasPrefix(UsageCounts.peakField + ":") || name.hasPrefix(UsageCounts.peakPrefix),
                    let colon = name.lastIndex(of: ":")
                else { return counts.add(field: name, value: value) }
                var summed = UsageCounts()
                summed.add(field: String(name[..<colon]), value: value)
                peaks.peakConnections += summed.peakConnections
                for (name, peak) in summed.peakConnectionsByProtocol { peaks.peakConnectionsByProtocol[name, default: 0] += peak }
            }
            counts.merge(peaks)
            if !counts.isEmpty { result[day] = counts }
        }
        return result
    }

    public func messagesIn(from: UsageDay, to: UsageDay) async throws -> [String: Int] {
        guard from <= to else { return [:] }
        let keys = (from.number...to.number).map { self.inKey(day: UsageDay(number: $0)) }
        let reply = try await RedisEngine.mapped { try await self.engine.commands.run(Self.readScript, keys: keys, arguments: []) }
        var result: [String: Int] = [:]
        for hash in reply.elements ?? [] { Self.pairs(hash) { app, value in result[app, default: 0] += value } }
        return result
    }

    static func pairs(_ hash: RESPValue, _ body: (String, Int) -> Void) {
        let items = hash.elements ?? []
        var index = 0
        while index + 1 < items.count {
            if let name = items[index].string, let value = items[index + 1].string.flatMap({ Int($0) }) { body(name, value) }
            index += 2
        }
    }

    /// How long usage is kept in Redis: a little over a year, so a 366-day report still finds its first day.
    static let ttlSeconds = 400 * 86_400

    /// KEYS: the app's day hash, the day's apps hash. ARGV: app, ttl s, messages in, the number of peaks, then node peak
    /// field/peak pairs (each kept as the larger), then field/increment pairs.
    static let addScript = RedisScript(
        """
        local peaks = tonumber(ARGV[4])
        for i = 5, 4 + 2 * peaks, 2 do
          local peak = tonumber(ARGV[i + 1])
          if peak > tonumber(redis.call('hget', KEYS[1], ARGV[i]) or '0') then redis.call('hset', KEYS[1], ARGV[i], peak) end
        end
        for i = 5 + 2 * peaks, #ARGV, 2 do redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1]) end
        if tonumber(ARGV[3]) > 0 then redis.call('hincrby', KEYS[2], ARGV[1], ARGV[3]) end
        redis.call('expire', KEYS[1], ARGV[2])
        redis.call('expire', KEYS[2], ARGV[2])
        return 1
        """
    )

    /// KEYS: hashes. Returns each one's HGETALL, in order.
    static let readScript = RedisScript(
        """
        local result = {}
        for i = 1, #KEYS do result[i] = redis.call('hgetall', KEYS[i]) end
        return result
        """
    )
}

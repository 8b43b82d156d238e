import NIOCore
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardRedis

/// Kept history in Redis, every app's channels together, stays within `max_history_mb`, and the ledger that holds it
/// there counts exactly what the streams keep.
@Suite("Redis history budget", .enabled(if: RedisServer.isInstalled, "redis-server is not installed"))
struct RedisHistoryBudgetTests {
    static let policy = HistoryPolicy(size: 1_000, ttlMilliseconds: 3_600_000)

    static func message(_ channel: String, bytes: Int, app: String = "app", at time: Int64 = WallClock.milliseconds()) -> Publication {
        Publication(app: app, channel: channel, data: ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes), timestamp: time)
    }

    /// A budget that can change while the engine runs, as a reload changes `max_history_mb`.
    final class Budget: Sendable {
        let bytes: Atomic<Int>
        init(_ bytes: Int) { self.bytes = Atomic(bytes) }
    }

    /// A Redis engine on a fresh redis-server whose budget is read from `budget` at each publish.
    func withBudget(_ budget: Budget, _ body: (RedisEngine) async throws -> Void) async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url, configure: { $0.maxHistoryBytes = { budget.bytes.load(ordering: .relaxed) } }, body)
        }
    }

    /// What the streams really keep: the bytes of every entry's field values, read from Redis.
    static func storedBytes(on engine: RedisEngine) async throws -> Int {
        let keys = try await engine.commands.send(RedisCommand("KEYS", "test:stream:*")).elements ?? []
        var total = 0
        for key in keys.compactMap(\.string) {
            for entry in try await engine.commands.send(RedisCommand("XRANGE", key, "-", "+")).elements ?? [] {
                for (index, field) in (entry.elements?[1].elements ?? []).enumerated() where index % 2 == 1 {
                    total += field.bytes?.readableBytes ?? 0
                }
            }
        }
        return total
    }

    /// `/metrics` reads `historyBytes` at each scrape, without a round trip: a sweep (every few seconds) reads the
    /// ledger's total, and until the first one the engine says it does not know.
    @Test func aSweepReadsTheLedgersTotalForTheMetrics() async throws {
        try await self.withBudget(Budget(1 << 30)) { engine in
            #expect(engine.historyBytes == nil)
            for n in 1...5 { _ = try await engine.publish(Self.message("metered-\(n)", bytes: 1_000), history: Self.policy) }
            try await engine.sweep(now: WallClock.milliseconds())
            let swept = try #require(engine.historyBytes)
            let counted = try await engine.keptHistoryBytes()
            #expect(swept >= 5_000 && swept == counted)
            try await engine.removeHistory(app: "app", channel: "metered-1")
            #expect(engine.historyBytes == swept, "the figure moves at the next sweep")
            try await engine.sweep(now: WallClock.milliseconds())
            #expect(try #require(engine.historyBytes) < swept)
        }
    }

    @Test func aFloodOfLargeMessagesCostsItsOwnChannelsTheirHistoryNotTheQuietOnes() async throws {
        let budget = 1 << 20
        try await self.withBudget(Budget(budget)) { engine in
            for n in 1...20 { _ = try await engine.publish(Self.message("chat", bytes: 200 + n, app: "quiet"), history: Self.policy) }
            // One client, holding only the public key, publishes 200 messages of 120 KB across ten channels: 24 MB.
            for n in 0..<200 { _ = try await engine.publish(Self.message("flood-\(n % 10)", bytes: 120_000, app: "noisy"), history: Self.policy) }

            let kept = try await engine.keptHistoryBytes()
            #expect(kept <= budget && kept > budget / 2)
            #expect(try await Self.storedBytes(on: engine) == kept)
            let chat = try await engine.history(app: "quiet", channel: "chat", after: nil, limit: nil, policy: Self.policy)
            #expect(chat.publications.count == 20)
            let flood = try await engine.history(app: "noisy", channel: "flood-3", after: 0, limit: nil, policy: Self.policy)
            #expect(flood.publications.count < 20 && flood.truncated)
            #expect(flood.latest?.offset == 20)
        }
    }

    @Test func aFloodSpreadOverThousandsOfChannelsCostsItsOwnAppNotAnotherAppsChannel() async throws {
        let budget = 1 << 20
        try await self.withBudget(Budget(budget)) { engine in
            for n in 1...10 { _ = try await engine.publish(Self.message("quiet", bytes: 1_000 + n, app: "victim"), history: Self.policy) }
            // One 2 KB message to each of 2,000 channels: each stream is smaller than the victim's.
            for n in 0..<2_000 { _ = try await engine.publish(Self.message("flood-\(n)", bytes: 2_000, app: "noisy"), history: Self.policy) }

            let quiet = try await engine.history(app: "victim", channel: "quiet", after: nil, limit: nil, policy: Self.policy)
            #expect(quiet.publications.count == 10)
            // A pass frees the excess and a tenth of the budget, not everything.
            let kept = try await engine.keptHistoryBytes()
            #expect(kept <= budget && kept > budget / 2)
            #expect(try await Self.storedBytes(on: engine) == kept)
        }
    }

    @Test func aSmallerBudgetAppliesToTheNextPublish() async throws {
        let budget = Budget(8 << 20)
        try await self.withBudget(budget) { engine in
            for n in 0..<40 { _ = try await engine.publish(Self.message("c-\(n % 4)", bytes: 100_000), history: Self.policy) }
            #expect(try await engine.keptHistoryBytes() > 3_900_000)
            budget.bytes.store(1 << 20, ordering: .relaxed)
            _ = try await engine.publish(Self.message("c-0", bytes: 10), history: Self.policy)
            #expect(try await engine.keptHistoryBytes() <= 1 << 20)
            #expect(try await Self.storedBytes(on: engine) == engine.keptHistoryBytes())
        }
    }

    @Test func trimsReadsRemovalsAndNewEpochsKeepTheCountExact() async throws {
        try await self.withBudget(Budget(1 << 30)) { engine in
            func expectExact(_ comment: Comment) async throws {
                #expect(try await Self.storedBytes(on: engine) == engine.keptHistoryBytes(), comment)
            }
            let three = HistoryPolicy(size: 3, ttlMilliseconds: 3_600_000)
            for n in 0..<6 { _ = try await engine.publish(Self.message("a", bytes: 100 + n), history: three) }
            for n in 0..<4 { _ = try await engine.publish(Self.message("b", bytes: 500 + n), history: Self.policy) }
            #expect(try await engine.keptHistoryBytes() > 3 * 100 + 4 * 500)
            try await expectExact("trimmed to the size")

            // Entries older than the ttl go when a publish or a read meets them.
            let old = WallClock.milliseconds() - 10_000
            _ = try await engine.publish(Self.message("c", bytes: 300, at: old), history: Self.policy)
            _ = try await engine.history(app: "app", channel: "b", after: nil, limit: nil, policy: HistoryPolicy(size: 1_000, ttlMilliseconds: 1))
            try await expectExact("trimmed by age")

            try await engine.removeHistory(app: "app", channel: "a")
            try await expectExact("removed")

            // History Redis lost (its meta hash) starts again under a new epoch, and the old entries leave the count.
            _ = try await engine.commands.send(RedisCommand("DEL", engine.keys.meta(engine.keys.channelID(app: "app", channel: "c"))))
            _ = try await engine.publish(Self.message("c", bytes: 50), history: Self.policy)
            try await expectExact("restarted")
        }
    }

    @Test func aStreamWhoseKeyExpiredLeavesTheCountAtALaterPublish() async throws {
        try await self.withBudget(Budget(1 << 30)) { engine in
            _ = try await engine.publish(Self.message("brief", bytes: 4_000), history: HistoryPolicy(size: 10, ttlMilliseconds: 300))
            // Only a publish forgets expired streams, so the count holds the brief stream until the next one.
            #expect(try await engine.keptHistoryBytes() > 4_000)
            try await Task.sleep(for: .milliseconds(500))
            _ = try await engine.publish(Self.message("kept", bytes: 100), history: Self.policy)
            let kept = try await engine.keptHistoryBytes()
            #expect(kept < 1_000)
            #expect(try await Self.storedBytes(on: engine) == kept)
        }
    }

    @Test func aStreamWhoseTtlWasTakenAwayStaysCountedWhileItKeepsItsEntries() async throws {
        try await self.withBudget(Budget(1 << 30)) { engine in
            _ = try await engine.publish(Self.message("kept-by-hand", bytes: 4_000), history: HistoryPolicy(size: 10, ttlMilliseconds: 300))
            let stream = engine.keys.stream(engine.keys.channelID(app: "app", channel: "kept-by-hand"))
            _ = try await engine.commands.send(RedisCommand("PERSIST", stream))
            try await Task.sleep(for: .milliseconds(500))
            _ = try await engine.publish(Self.message("other", bytes: 100), history: Self.policy)
            let kept = try await engine.keptHistoryBytes()
            #expect(kept > 4_000)
            #expect(try await Self.storedBytes(on: engine) == kept)
        }
    }
}

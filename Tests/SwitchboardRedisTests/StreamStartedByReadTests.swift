import NIOCore
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardRedis

/// A positioned subscribe starts a missing stream in Redis, bounded by the history ttl and a per-app cap.
@Suite("Redis streams started by a read", .enabled(if: RedisServer.isInstalled, "redis-server is not installed"))
struct RedisStreamStartedByReadTests {
    /// A Redis engine on a fresh redis-server, with epochs named `e1`, `e2`, … and at most `cap` message-less streams per app.
    func withEngine(cap: Int = 10_000, _ body: (RedisEngine) async throws -> Void) async throws {
        try await withRedisServer { server in
            let next = Atomic<Int>(0)
            try await withRedisEngine(
                url: server.url,
                configure: { $0.maxMessagelessStreams = cap },
                makeEpoch: { "e\(next.wrappingAdd(1, ordering: .relaxed).newValue)" },
                body
            )
        }
    }

    func latest(_ engine: RedisEngine, _ channel: String) async throws -> StreamPosition? {
        try await engine.history(app: "app", channel: channel, after: 0, limit: nil, policy: keepTen).latest
    }

    func start(_ engine: RedisEngine, _ channel: String, app: String = "app") async throws -> StreamPosition? {
        try await engine.historyStartingStream(app: app, channel: channel, after: 0, policy: keepTen).latest
    }

    @Test func aPositionedReadOfAMissingStreamGivesAnEpochAtOffsetZero() async throws {
        try await withEngine { engine in
            let first = try await self.start(engine, "room")
            #expect(first == StreamPosition(offset: 0, epoch: "e1"))
            // A second read finds the stream the first one started.
            #expect(try await self.start(engine, "room") == first)
            #expect(try await self.latest(engine, "room") == first)
        }
    }

    @Test func aPublishAfterTheReadContinuesItsEpochAtOffsetOne() async throws {
        try await withEngine { engine in
            let started = try await self.start(engine, "room")
            let published = try await engine.publish(message("room", "{}"), history: keepTen)
            #expect(published.position == StreamPosition(offset: 1, epoch: started?.epoch ?? "-"))
        }
    }

    @Test func afterHistoryIsRemovedTheNextPublishContinuesTheStartedEpoch() async throws {
        try await withEngine { engine in
            let started = try await self.start(engine, "room")
            try await engine.removeHistory(app: "app", channel: "room")
            let published = try await engine.publish(message("room", "{}"), history: keepTen)
            #expect(published.position == StreamPosition(offset: 1, epoch: started?.epoch ?? "-"))
        }
    }

    @Test func theStartedStreamExpiresWithTheHistoryTTL() async throws {
        try await withEngine { engine in
            _ = try await self.start(engine, "room")
            let meta = engine.keys.meta(engine.keys.channelID(app: "app", channel: "room"))
            let ttl = try await engine.commands.send(RedisCommand("PTTL", meta)).int ?? -1
            #expect(ttl > 0 && ttl <= keepTen.ttlMilliseconds)
        }
    }

    @Test func pastTheCapTheOldestMessagelessStreamOfTheAppIsForgotten() async throws {
        try await withEngine(cap: 2) { engine in
            for channel in ["a", "b"] { _ = try await self.start(engine, channel) }
            // "b" leaves the set with its first message, so "c" fits beside "a"; "d" then pushes "a", the oldest, out.
            _ = try await engine.publish(message("b", "{}"), history: keepTen)
            let c = try await self.start(engine, "c")
            #expect(try await self.latest(engine, "a") == StreamPosition(offset: 0, epoch: "e1"))
            _ = try await self.start(engine, "d")
            #expect(try await self.latest(engine, "a") == nil)
            #expect(try await self.latest(engine, "b") == StreamPosition(offset: 1, epoch: "e2"))
            #expect(c?.offset == 0)
            #expect(try await self.latest(engine, "c") == c)
            // Another app's streams count against its own cap, not this one's.
            for channel in ["x", "y"] { _ = try await self.start(engine, channel, app: "other") }
            #expect(try await self.latest(engine, "c") == c)
            // The forgotten stream starts again under a new epoch: its old one recovers nothing.
            let again = try await self.start(engine, "a")
            #expect(again?.offset == 0 && again?.epoch != "e1")
        }
    }
}

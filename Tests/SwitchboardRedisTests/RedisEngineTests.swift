import NIOCore
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardRedis

/// What only a shared engine can show: several nodes, a dead node, Redis going away.
@Suite("Redis engine", .enabled(if: RedisServer.isInstalled, "redis-server is not installed"))
struct RedisEngineTests {
    /// Two nodes on one fresh redis-server, each handing what it receives to its own recorder.
    func withTwoNodes(_ body: (RedisEngine, Recorder, RedisEngine, Recorder) async throws -> Void) async throws {
        try await withRedisNodes(2) { nodes in try await body(nodes[0].engine, nodes[0].heard, nodes[1].engine, nodes[1].heard) }
    }

    @Test func channelCountsAddEveryNodesReportToTheAskingNodesLiveCounts() async throws {
        try await withTwoNodes { a, onA, b, onB in
            onB.load.withLock { $0 = ["app": NodeLoad(connections: 3, channels: ["room": 2, "lobby": 1]), "other": NodeLoad(channels: ["x": 4])] }
            try await b.occupancy.report()
            let counts = try await a.channels(app: "app", local: ["room": 3])
            #expect(counts == ["room": 5, "lobby": 1])
            // The asking node's own report is never counted twice: its live counts stand in for it.
            onA.load.withLock { $0 = ["app": NodeLoad(connections: 1, channels: ["room": 3])] }
            try await a.occupancy.report()
            #expect(try await a.channels(app: "app", local: ["room": 1]) == ["room": 3, "lobby": 1])
            // An app that emptied on a node is removed from its report.
            onB.load.withLock { $0 = ["other": NodeLoad(channels: ["x": 4])] }
            try await b.occupancy.report()
            #expect(try await a.channels(app: "app", local: [:]) == [:])
            #expect(try await a.channels(app: "other", local: [:]) == ["x": 4])
        }
    }

    @Test func eachNodeHearsTheOtherNodesLoadOfTheAppsItHoldsAfterItsReport() async throws {
        try await withRedisNodes(3) { nodes in
            let ((a, onA), (b, onB), (c, onC)) = (nodes[0], nodes[1], nodes[2])
            onB.load.withLock { $0 = ["app": NodeLoad(connections: 3, channels: ["room": 2]), "other": NodeLoad(connections: 1)] }
            onC.load.withLock { $0 = ["app": NodeLoad(connections: 2, channels: ["room": 1, "lobby": 4])] }
            try await b.occupancy.report()
            try await c.occupancy.report()
            // `a` hears of the apps it holds itself, summed over the others, and never its own load.
            onA.load.withLock { $0 = ["app": NodeLoad(connections: 7, channels: ["room": 9])] }
            try await a.occupancy.report()
            #expect(onA.elsewhere.withLock { $0 } == ["app": NodeLoad(connections: 5, channels: ["room": 3, "lobby": 4])])
            // A node that holds nothing of an app any more drops out of the sums.
            onC.load.withLock { $0 = [:] }
            try await c.occupancy.report()
            try await a.occupancy.report()
            #expect(onA.elsewhere.withLock { $0 } == ["app": NodeLoad(connections: 3, channels: ["room": 2])])
            // An app no other node holds is left out.
            try await b.occupancy.report()
            #expect(onB.elsewhere.withLock { $0 } == ["app": NodeLoad(connections: 7, channels: ["room": 9])])
        }
    }

    @Test func aNodeReadsNoOtherNodesLoadForAnAppItDoesNotWantItFor() async throws {
        try await withTwoNodes { a, onA, b, onB in
            onB.load.withLock { $0 = ["limited": NodeLoad(connections: 2), "unlimited": NodeLoad(connections: 9, channels: ["x": 1])] }
            try await b.occupancy.report()
            onA.load.withLock { $0 = ["limited": NodeLoad(connections: 1), "unlimited": NodeLoad(connections: 1)] }
            onA.unwanted.withLock { $0 = ["unlimited"] }
            try await a.occupancy.report()
            #expect(onA.elsewhere.withLock { $0 } == ["limited": NodeLoad(connections: 2)])
            // The cluster's channel counts still read it when asked.
            #expect(try await a.channels(app: "unlimited", local: [:]) == ["x": 1])
        }
    }

    @Test func aReportWritesOnlyWhatChangedAndRewritesAHashRedisLost() async throws {
        try await withTwoNodes { a, onA, b, onB in
            let channels = Dictionary(uniqueKeysWithValues: (0..<500).map { ("c\($0)", 1) })
            onB.load.withLock { $0 = ["app": NodeLoad(connections: 2, channels: channels)] }
            try await b.occupancy.report()
            #expect(try await a.channels(app: "app", local: [:]).count == 500)
            // Nothing changed: the report renews the hash and writes no field.
            let before = try await Self.fieldWrites(on: b)
            try await b.occupancy.report()
            #expect(try await Self.fieldWrites(on: b) == before)
            // One channel changed, one left: those two fields go, and the other node sees them.
            var changed = channels
            changed["c0"] = 7
            changed["c1"] = nil
            onB.load.withLock { $0 = ["app": NodeLoad(connections: 2, channels: changed)] }
            try await b.occupancy.report()
            #expect(try await Self.fieldWrites(on: b) == before + 2)
            #expect(try await a.channels(app: "app", local: [:]) == changed)
            // Redis lost the hash: the next report writes it whole.
            let hash = b.keys.occupancyHashPrefix(app: "app") + b.nodeID
            _ = try await b.commands.send(RedisCommand("DEL", hash))
            try await b.occupancy.report()
            #expect(try await a.channels(app: "app", local: [:]) == changed)
        }
    }

    /// HSET and HDEL calls Redis has run so far (its `commandstats`).
    static func fieldWrites(on engine: RedisEngine) async throws -> Int {
        let stats = try await engine.commands.send(RedisCommand("INFO", "commandstats")).string ?? ""
        var total = 0
        for line in stats.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_hset:") || line.hasPrefix("cmdstat_hdel:") {
            guard let calls = line.split(separator: ",").first?.split(separator: "=").last, let count = Int(calls) else { continue }
            total += count
        }
        return total
    }

    @Test func twoNodesShareFanOutHistoryAndPresence() async throws {
        try await withTwoNodes { a, onA, b, onB in
            try await a.subscribe(app: "app", channel: "room")
            try await b.subscribe(app: "app", channel: "room")
            for index in 1...30 {
                var publication = message("room", "\(index)")
                publication.sender = ConnectionID(5)
                _ = try await (index.isMultiple(of: 2) ? a : b).publish(publication, history: keepTen)
            }
            try await onA.wait(for: 30)
            try await onB.wait(for: 30)
            #expect(onA.publications.map { $0.position?.offset } == (1...30).map { UInt64($0) })
            #expect(onB.publications.map { $0.position?.offset } == (1...30).map { UInt64($0) })
            // Connection ids are unique across nodes, so every node keeps the sender (cluster-wide `socket_id` exclusion).
            #expect(onA.publications.allSatisfy { $0.sender == ConnectionID(5) })
            let fromA = try await a.history(app: "app", channel: "room", after: 25, limit: nil, policy: keepTen)
            let fromB = try await b.history(app: "app", channel: "room", after: 25, limit: nil, policy: keepTen)
            #expect(fromA.publications.map { $0.position } == fromB.publications.map { $0.position })
            #expect(fromA.publications.count == 5)

            _ = try await a.presence.join(
                app: "app",
                channel: "presence-r",
                userID: "ada",
                metadata: ByteBuffer(string: "1"),
                holder: .connection(ConnectionID(1)),
                now: 1
            )
            // The same connection number on another node is another holder.
            _ = try await b.presence.join(
                app: "app",
                channel: "presence-r",
                userID: "bob",
                metadata: ByteBuffer(string: "2"),
                holder: .connection(ConnectionID(1)),
                now: 1
            )
            let seenFromA = try await a.presence.members(app: "app", channel: "presence-r").map(\.userID)
            let seenFromB = try await b.presence.members(app: "app", channel: "presence-r").map(\.userID)
            #expect(seenFromA == ["ada", "bob"] && seenFromB == seenFromA)
            let leave = try await a.presence.leave(
                app: "app",
                channel: "presence-r",
                userID: "bob",
                holder: .connection(ConnectionID(1)),
                now: 2
            )
            #expect(leave == nil)
        }
    }

    @Test func aRetryOnAnotherNodeIsDroppedAndItsKeyExpiresWithItsWindow() async throws {
        try await withTwoNodes { a, onA, b, onB in
            try await a.subscribe(app: "app", channel: "room")
            let key = IdempotencyKey("k", windowMilliseconds: 60_000)!
            let first = try await a.publish(message("room", "1"), history: keepTen, idempotencyKey: key)
            let retry = try await b.publish(message("room", "1"), history: keepTen, idempotencyKey: key)
            #expect(!first.isDuplicate && retry.isDuplicate && retry.publication.position == first.publication.position)
            _ = try await b.publish(message("room", "marker"), history: keepTen)
            try await onA.wait(for: 2)
            #expect(onA.publications.map { String(buffer: $0.data) } == ["1", "marker"])
            let record = a.keys.idempotency(a.keys.channelID(app: "app", channel: "room"), key: "k")
            let ttl = try await a.commands.send(RedisCommand("PTTL", record)).int ?? -1
            #expect(ttl > 0 && ttl <= 60_000)
        }
    }

    @Test func unsubscribedNodeStopsReceiving() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { a in
                let recorder = Recorder()
                a.attach(recorder)
                try await a.subscribe(app: "app", channel: "gone")
                try await a.subscribe(app: "app", channel: "marker")
                _ = try await a.publish(message("gone", "1"), history: nil)
                try await recorder.wait(for: 1)
                try await a.unsubscribe(app: "app", channel: "gone")
                _ = try await a.publish(message("gone", "2"), history: nil)
                _ = try await a.publish(message("marker", "m"), history: nil)
                try await recorder.wait(for: 2)
                #expect(recorder.publications.map { String(buffer: $0.data) } == ["1", "m"])
            }
        }
    }

    @Test func subscriptionsAreCountedSoALateUnsubscribeKeepsANewSubscriber() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { a in
                let recorder = Recorder()
                a.attach(recorder)
                // The bus's "first subscriber" and a stale "last subscriber left" for the same channel, out of order.
                try await a.subscribe(app: "app", channel: "busy")
                try await a.subscribe(app: "app", channel: "busy")
                try await a.unsubscribe(app: "app", channel: "busy")
                _ = try await a.publish(message("busy", "still here"), history: nil)
                try await recorder.wait(for: 1)
                #expect(recorder.publications.map { String(buffer: $0.data) } == ["still here"])
            }
        }
    }

    @Test func deadNodesMembersExpireWhileRefreshedOnesStay() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { survivor in
                let start = WallClock.milliseconds()
                try await withRedisEngine(url: server.url) { doomed in
                    _ = try await doomed.presence.join(
                        app: "app",
                        channel: "presence-d",
                        userID: "ghost",
                        metadata: ByteBuffer(string: "{}"),
                        holder: .connection(ConnectionID(3)),
                        now: start
                    )
                    _ = try await survivor.presence.join(
                        app: "app",
                        channel: "presence-d",
                        userID: "alive",
                        metadata: ByteBuffer(string: "{}"),
                        holder: .connection(ConnectionID(3)),
                        now: start
                    )
                    try await doomed.redisPresence.refresh(now: start + 1_000)
                    try await survivor.redisPresence.refresh(now: start + 1_000)
                    #expect(try await survivor.presence.expire(now: start + 1_500, maxAge: 1_000).isEmpty)
                }
                // `doomed` stopped: only the survivor keeps refreshing.
                try await survivor.redisPresence.refresh(now: start + 2_000)
                let leaves = try await survivor.presence.expire(now: start + 2_500, maxAge: 1_000)
                #expect(leaves.map(\.member.userID) == ["ghost"])
                #expect(try await survivor.presence.members(app: "app", channel: "presence-d").map(\.userID) == ["alive"])
            }
        }
    }

    @Test func aRefreshReAddsWhatEachHolderJoinedWithWhenRedisLostIt() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { engine in
                let start = WallClock.milliseconds()
                for (id, client) in [(1, "c1"), (2, "c2")] {
                    _ = try await engine.presence.join(
                        app: "app",
                        channel: "presence-lost",
                        userID: "ada",
                        metadata: ByteBuffer(string: #"{"client":"\#(client)"}"#),
                        holder: .connection(ConnectionID(UInt64(id))),
                        now: start
                    )
                }
                let connection = RedisConnection(configuration: .init(url: server.url))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await connection.run() }
                    defer { group.cancelAll() }
                    #expect(await connection.waitUntilReady(timeout: .seconds(5)))
                    _ = try await connection.send(RedisCommand("FLUSHALL"))
                }
                #expect(try await engine.presence.members(app: "app", channel: "presence-lost").isEmpty)
                try await engine.redisPresence.refresh(now: start + 1_000)
                let members = try await engine.presence.members(app: "app", channel: "presence-lost")
                #expect(members.map(\.userID) == ["ada"])
                #expect(members.first?.holders.map { String(buffer: $0) }.sorted() == [#"{"client":"c1"}"#, #"{"client":"c2"}"#])
            }
        }
    }

    @Test func redisRestartRefusesPublishesThenResubscribesUnderANewEpoch() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { engine in
                let recorder = try await Recorder.listening(to: "live", on: engine)
                let before = try await engine.publish(message("live", "1"), history: keepTen)
                try await recorder.wait(for: 1)

                server.stop()
                var refused = false
                for _ in 0..<100 where !refused {
                    do {
                        _ = try await engine.publish(message("live", "lost"), history: keepTen)
                        try await Task.sleep(for: .milliseconds(20))
                    } catch let error as EngineUnavailable {
                        #expect(error.engine == "redis")
                        refused = true
                    }
                }
                #expect(refused, "publishes while Redis is down must be refused")

                try await server.start()
                #expect(await engine.waitUntilAvailable(timeout: .seconds(5)))
                // The subscriber connection resubscribed: a publish reaches this node again.
                var after: Publication?
                for _ in 0..<100 where recorder.publications.count < 2 {
                    after = try? await engine.publish(message("live", "2"), history: keepTen)
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(recorder.publications.count >= 2)
                // Redis lost the history: the stream starts over under a new epoch, so clients know to resync.
                #expect(after?.position?.epoch != nil && after?.position?.epoch != before.position?.epoch)
            }
        }
    }

    @Test func pipelinedCommandsGetTheirOwnRepliesInOrder() async throws {
        try await withRedisServer { server in
            let connection = RedisConnection(configuration: .init(url: server.url))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await connection.run() }
                defer { group.cancelAll() }
                #expect(await connection.waitUntilReady(timeout: .seconds(5)))
                let replies = try await withThrowingTaskGroup(of: Int64.self) { inner in
                    for _ in 0..<200 { inner.addTask { try await connection.send(RedisCommand("INCR", "counter")).int ?? -1 } }
                    return try await inner.reduce(into: [Int64]()) { $0.append($1) }
                }
                #expect(replies.sorted() == (1...200).map { Int64($0) })
                await #expect(throws: RedisError.self) { try await connection.send(RedisCommand("NOSUCHCOMMAND")) }
                // The connection is still usable after an error reply.
                #expect(try await connection.send(RedisCommand("PING")).string == "PONG")
            }
        }
    }

    @Test func authAndDatabaseSelectionFromTheURL() async throws {
        try await withRedisServer(extraArguments: ["--requirepass", "s3cret"]) { server in
            var url = server.url
            url.password = "s3cret"
            url.database = 2
            var configuration = RedisConnection.Configuration(url: url)
            configuration.resp3 = true
            let connection = RedisConnection(configuration: configuration)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await connection.run() }
                defer { group.cancelAll() }
                #expect(await connection.waitUntilReady(timeout: .seconds(5)))
                try await connection.send(RedisCommand("SET", "where", "db2"))
                let info = try await connection.send(RedisCommand("CLIENT", "INFO")).string ?? ""
                #expect(info.contains("db=2"))
                #expect(info.contains("resp=3"))
            }
        }
    }
}

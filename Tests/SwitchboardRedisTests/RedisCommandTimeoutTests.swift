import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardRedis

/// A Redis that stops answering (here busy in `DEBUG SLEEP`) fails commands at their timeout instead of hanging them.
@Suite("Redis command timeout", .enabled(if: RedisServer.isInstalled, "redis-server is not installed"))
struct RedisCommandTimeoutTests {
    /// Runs `body` with a connection whose commands time out after `timeout`, and a second one to put Redis to sleep.
    func withConnections(timeout: Duration, _ body: (RedisConnection, RedisConnection) async throws -> Void) async throws {
        try await withRedisServer(extraArguments: ["--enable-debug-command", "local"]) { server in
            var configuration = RedisConnection.Configuration(url: server.url)
            configuration.commandTimeout = timeout
            let client = RedisConnection(configuration: configuration)
            let sleeper = RedisConnection(configuration: .init(url: server.url))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                group.addTask { await sleeper.run() }
                defer { group.cancelAll() }
                #expect(await client.waitUntilReady(timeout: .seconds(5)))
                #expect(await sleeper.waitUntilReady(timeout: .seconds(5)))
                try await body(client, sleeper)
            }
        }
    }

    @Test func aCommandRedisDoesNotAnswerInTimeFailsAtTheTimeoutAndTheConnectionCountsAsStalled() async throws {
        try await withConnections(timeout: .milliseconds(200)) { client, sleeper in
            #expect(try await client.send(RedisCommand("PING")) == .simpleString(ByteBuffer(string: "PONG")))
            #expect(!client.isStalled)
            async let asleep = sleeper.send(RedisCommand("DEBUG", "SLEEP", "1.5"))
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            await #expect(throws: RedisError.self) { try await client.send(RedisCommand("PING")) }
            let waited = ContinuousClock.now - started
            #expect(waited < .seconds(1), "the command waited \(waited) with a 200 ms timeout")
            #expect(client.isStalled)
            _ = try await asleep
            // Redis answers again: the first reply that comes in time ends the stall.
            #expect(try await client.send(RedisCommand("PING")) == .simpleString(ByteBuffer(string: "PONG")))
            #expect(!client.isStalled)
        }
    }

    @Test func aTimedOutCommandIsUnavailableAndBecomesEngineUnavailable() async {
        let error = RedisError.timedOut("no reply within 200 ms")
        #expect(error.isTimeout && error.isUnavailable)
        await #expect(throws: EngineUnavailable.self) {
            try await RedisEngine.mapped { () async throws -> Int in throw error }
        }
    }
}

import NIOCore
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardRedis

@Suite("Redis node commands", .enabled(if: RedisServer.isInstalled, "redis-server is not installed"))
struct RedisNodeCommandsTests {
    @Test func aCommandReachesEveryOtherNodeOnceAndNotTheNodeThatSentIt() async throws {
        try await withRedisNodes(3) { nodes in
            let ((a, onA), (b, onB), (c, onC)) = (nodes[0], nodes[1], nodes[2])
            // A node hears commands once its subscriber connection is up: a channel's message reaching it shows that
            // (the command topic is subscribed first, on the same connection).
            try await b.subscribe(app: "app", channel: "room")
            try await c.subscribe(app: "app", channel: "room")
            _ = try await a.publish(message("room", "ready"), history: nil)
            _ = try await onB.wait(for: 1)
            _ = try await onC.wait(for: 1)
            let command = NodeCommand(kind: "pusher.terminate", body: ByteBuffer(string: #"{"app":"1","user":"u\n2"}"#))
            try await a.sendToOtherNodes(command)
            for _ in 0..<250 where onB.commands.withLock({ $0.isEmpty }) || onC.commands.withLock({ $0.isEmpty }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            // What `a` publishes after the command reaches `b` after it: by then a second copy would have too.
            _ = try await a.publish(message("room", "after"), history: nil)
            _ = try await onB.wait(for: 2)
            #expect(onB.commands.withLock { $0 } == [command])
            #expect(onC.commands.withLock { $0 } == [command])
            #expect(onA.commands.withLock { $0 }.isEmpty)
        }
    }

    @Test func aPayloadThatIsNotACommandIsDropped() {
        let commands = RedisNodeCommands(prefix: "p", nodeID: "node-b")
        let other = RedisNodeCommands(prefix: "p", nodeID: "node-a")
        let command = NodeCommand(kind: "jwt.user", body: ByteBuffer(string: "{}"))
        #expect(commands.decode(other.encode(command)) == command)
        #expect(commands.decode(commands.encode(command)) == nil)
        #expect(commands.decode(ByteBuffer(string: "no newline at all")) == nil)
        #expect(commands.decode(ByteBuffer(string: "node-a\n\n{}")) == nil)
        #expect(commands.decode(ByteBuffer(string: "node-a\nkind-without-body")) == nil)
        #expect(commands.decode(ByteBuffer(string: "node-a\njwt.user\n")) == NodeCommand(kind: "jwt.user", body: ByteBuffer()))
    }
}

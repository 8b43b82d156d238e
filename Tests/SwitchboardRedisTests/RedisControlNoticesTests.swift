import NIOCore
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardRedis

@Suite("Redis control notices", .enabled(if: RedisServer.isInstalled, "redis-server is not installed"))
struct RedisControlNoticesTests {
    @Test func aSharedDocumentIsAnnouncedToEveryNodeAndKeptForLateReaders() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { a in
                try await withRedisEngine(url: server.url) { b in
                    let heard = Mutex<[String]>([])
                    await b.listenForControlNotices { field in heard.withLock { $0.append(field) } }
                    // Bus traffic on the same subscriber connection does not reach the control handler, nor the reverse.
                    let bus = Recorder()
                    b.attach(bus)
                    try await b.subscribe(app: "app", channel: "room")
                    try await a.shareControlDocument(#"{"channelRules":[]}"#, field: "live:1001")
                    _ = try await a.publish(message("room", "m"), history: nil)
                    _ = try await bus.wait(for: 1)
                    for _ in 0..<100 where heard.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(20)) }
                    #expect(heard.withLock { $0 } == ["live:1001"])
                    #expect(bus.publications.map { String(buffer: $0.data) } == ["m"])
                    #expect(try await b.controlDocument(field: "live:1001") == #"{"channelRules":[]}"#)
                    try await a.shareControlDocument("{}", field: "live:1002")
                    #expect(try await b.controlDocuments() == ["live:1001": #"{"channelRules":[]}"#, "live:1002": "{}"])
                    #expect(try await b.controlDocument(field: "live:9") == nil)
                }
            }
        }
    }

    @Test func aSpentDocumentIsRemovedOnlyWhileNobodyHasReplacedIt() async throws {
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { engine in
                try await engine.shareControlDocument(#"{"expiresAt":1}"#, field: "block:203.0.113.7/32")
                try await engine.shareControlDocument(#"{"expiresAt":2}"#, field: "block:198.51.100.0/24")
                // Another node blocked the range again after this one read the old document: the new one stays.
                try await engine.shareControlDocument(#"{"expiresAt":99}"#, field: "block:198.51.100.0/24")
                #expect(try await engine.removeControlDocument(field: "block:203.0.113.7/32", ifStill: #"{"expiresAt":1}"#))
                #expect(try await !engine.removeControlDocument(field: "block:198.51.100.0/24", ifStill: #"{"expiresAt":2}"#))
                #expect(try await !engine.removeControlDocument(field: "block:203.0.113.7/32", ifStill: #"{"expiresAt":1}"#))
                #expect(try await engine.controlDocuments() == ["block:198.51.100.0/24": #"{"expiresAt":99}"#])
            }
        }
    }
}

import Testing

@testable import SwitchboardRedis

@Suite("Redis URL")
struct RedisURLTests {
    @Test func fullURLParses() throws {
        let url = try RedisURL(parsing: "redis://alice:p%40ss@10.0.0.5:6380/3")
        #expect(url == RedisURL(host: "10.0.0.5", port: 6380, user: "alice", password: "p@ss", database: 3))
        #expect(url.description == "redis://alice:***@10.0.0.5:6380/3")
    }

    @Test func defaultsApply() throws {
        #expect(try RedisURL(parsing: "redis://localhost") == RedisURL(host: "localhost", port: 6379, database: 0))
        #expect(try RedisURL(parsing: "redis://:secret@127.0.0.1:7000/") == RedisURL(host: "127.0.0.1", port: 7000, password: "secret"))
        #expect(try RedisURL(parsing: "redis://[::1]:6379/1") == RedisURL(host: "::1", port: 6379, database: 1))
    }

    @Test func redissMeansTLS() throws {
        let url = try RedisURL(parsing: "rediss://:pw@cache.internal:6380/2")
        #expect(url == RedisURL(host: "cache.internal", port: 6380, password: "pw", database: 2, tls: true))
        #expect(url.description == "rediss://:***@cache.internal:6380/2")
        #expect(try RedisURL(parsing: "redis://x").tls == false)
    }

    @Test func badURLsAreRefusedWithAReason() {
        for text in ["localhost:6379", "http://x", "redis://x:abc", "redis://x/one", "redis://:0", "redis://x:70000", "redis://x?db=1"] {
            #expect(throws: RedisURLError.self, "\(text)") { try RedisURL(parsing: text) }
        }
    }
}

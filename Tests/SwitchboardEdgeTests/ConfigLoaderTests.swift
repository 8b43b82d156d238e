import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct ConfigLoaderTests {
    let valid = """
        default_app = "1001"
        [server]
        host = "0.0.0.0"
        port = 9000
        [admin]
        token = "t"
        [plans.tiny]
        max_channels = 2
        publishes_per_minute = 0
        [[apps]]
        id = "1001"
        key = "pk"
        secret = "sk"
        plan = "tiny"
        origins = ["https://*.example.com"]
        [[apps.channels]]
        match = "chat:*"
        history_size = 50
        history_ttl = "2h"
        client_publish = false
        """

    func problem(_ text: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func theShippedDefaultConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../conf/switchboard.toml").path
        let config = try ConfigLoader.load(path: path)
        #expect(config.defaultApp == "1001")
        #expect(config.apps.first?.key == "pk_dev_demo")
        #expect(config.apps.first?.plan == .free)
        #expect(config.server.port == 8080)
    }

    @Test func everyKeyIsRead() throws {
        let config = try ConfigLoader.parse(self.valid)
        #expect(config.server.host == "0.0.0.0")
        #expect(config.server.port == 9000)
        #expect(config.admin.token == "t")
        let app = try #require(config.apps.first)
        #expect(app.plan.maxChannels == 2)
        #expect(app.plan.publishesPerMinute == nil)
        #expect(app.origins == ["https://*.example.com"])
        #expect(app.channelRules.first == ChannelRule(match: "chat:*", historySize: 50, historyTTLMilliseconds: 7_200_000, clientPublish: false))
    }

    @Test(arguments: [
        ("[server]\nprot = 1", "server.prot: unknown key"),
        ("[server]\nport = \"80\"", "server.port: must be an integer"),
        ("[server]\nport = 70000", "server.port: must be between 0 and 65535"),
        ("[[apps]]\nid = \"1\"\nkey = \"k\"", "apps[0].secret: is required"),
        ("[[apps]]\nkey = \"k\"\nsecret = \"s\"", "apps[0].id: is required"),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\nplan = \"gold\"",
            "apps[0].plan: unknown plan \"gold\" (known: builder, enterprise, free, pro)"
        ),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[[apps]]\nid = \"1\"\nkey = \"k2\"\nsecret = \"s\"",
            "apps[1].id: duplicate app id \"1\""
        ),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\norigins = [\"https://a.com/\"]",
            "apps[0].origins[0]: \"https://a.com/\" is not an origin like https://app.example.com"
        ),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[[apps.channels]]\nmatch = \"x\"\nhistory_ttl = \"soon\"",
            "apps[0].channels[0].history_ttl: \"soon\" is not a duration like 90s, 10m, 24h or 7d"
        ),
        ("default_app = \"9\"", "default_app: no app has id \"9\""),
        ("[engine]\nkind = \"etcd\"", "engine.kind: unknown engine \"etcd\" (this build has: memory, redis)"),
        ("[engine]\nkind = \"redis\"\nurl = \"http://r:6379\"", "engine.url: unsupported scheme \"http\"; expected redis:// or rediss://"),
        ("[engine]\nkind = \"redis\"\nurl = \"redis://r:port\"", "engine.url: port \"port\" is not a number"),
        ("[apps]\nid = 1", "apps: must be an array of tables ([[apps]])"),
    ])
    func badConfigNamesTheKeyAndTheProblem(text: String, expected: String) {
        #expect(self.problem(text)?.description == expected)
    }

    @Test func redisEngineReadsURLAndPrefix() throws {
        let config = try ConfigLoader.parse("[engine]\nkind = \"redis\"\nurl = \"redis://:pw@10.0.0.2:6380/2\"\nprefix = \"blue\"")
        #expect(config.engine.kind == "redis")
        #expect(config.engine.url == "redis://:pw@10.0.0.2:6380/2")
        #expect(config.engine.prefix == "blue")
    }

    @Test func aSyntaxErrorNamesTheLine() {
        let message = self.problem("[server]\nport = = 1")?.description ?? ""
        #expect(message.hasPrefix("TOML syntax error at line 2"))
    }

    @Test func aMissingFileIsReported() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/switchboard.toml") }
    }
}

import Crypto
import Foundation
import Logging
import SwitchboardCore
import SwitchboardStore
import Testing

@testable import SwitchboardEdge

@Suite struct ControlPlaneTests {
    static func config(path: String, origins: [String] = ["https://a.example.com"], secret: String = "sk_config_secret_1234") -> SwitchboardConfig {
        var config = SwitchboardConfig()
        config.store.path = path
        var app = App(id: "1001", key: "pk_one", secrets: [secret], origins: origins, plan: .pro)
        app.channelRules = [ChannelRule(match: "chat:*", historySize: 5)]
        app.maxPresenceMembers = 7
        config.apps = [app]
        return config
    }

    static func open(_ config: SwitchboardConfig, key: String = "master") throws -> (ControlPlane, AppRegistry) {
        let registry = AppRegistry(apps: [])
        let plane = try ControlPlane.open(
            store: SQLiteStore(path: config.store.path),
            registry: registry,
            config: config,
            environment: ["SWITCHBOARD_MASTER_KEY": key],
            logger: Logger(label: "test")
        )
        return (plane, registry)
    }

    static func temporaryPath() -> String { NSTemporaryDirectory() + "cp-\(UUID().uuidString)/store.sqlite" }

    @Test func configAppsAreSeededWithTheirSecretAsTheFirstKey() throws {
        let (plane, registry) = try Self.open(Self.config(path: ":memory:"))
        #expect(try plane.keys(app: "1001").map(\.preview) == ["sk_live_••••1234"])
        let app = try #require(registry.app(key: "pk_one"))
        #expect(app.secrets == ["sk_config_secret_1234"] && app.plan.name == "pro" && app.origins == ["https://a.example.com"])
        #expect(registry.app(secret: "sk_config_secret_1234")?.id == "1001")
    }

    @Test func adminEditsOutliveARestartWhileConfigOnlySettingsFollowTheFile() throws {
        let path = Self.temporaryPath()
        do {
            let (plane, _) = try Self.open(Self.config(path: path))
            _ = try plane.update("1001") { $0.origins = ["https://edited.example.com"] }
        }
        var changed = Self.config(path: path, origins: ["https://file.example.com"])
        changed.apps[0].maxPresenceMembers = 9
        let (plane, registry) = try Self.open(changed)
        #expect(ControlPlane.differences(config: changed.apps[0], stored: try plane.app("1001")) == ["origins"])
        let app = try #require(registry.app(id: "1001"))
        #expect(app.origins == ["https://edited.example.com"])
        #expect(app.maxPresenceMembers == 9 && app.channelRules.first?.match == "chat:*")
    }

    @Test func aWrongMasterKeyOnRestartIsAConfigError() throws {
        let path = Self.temporaryPath()
        _ = try Self.open(Self.config(path: path), key: "right")
        #expect(throws: ConfigError.self) { try Self.open(Self.config(path: path), key: "wrong") }
    }

    @Test func rotatingSignsWithTheNewKeyAndRevokingStopsTheOldAtOnce() throws {
        let (plane, registry) = try Self.open(Self.config(path: ":memory:"))
        let old = try #require(try plane.keys(app: "1001").first)
        let rotated = try plane.rotateKey(app: "1001", keyID: old.id)
        #expect(registry.app(id: "1001")?.signingSecret == rotated.secret)
        #expect(registry.app(secret: "sk_config_secret_1234")?.id == "1001")
        _ = try plane.revokeKey(app: "1001", keyID: old.id)
        #expect(registry.app(secret: "sk_config_secret_1234") == nil)
        #expect(registry.app(secret: rotated.secret)?.id == "1001")
        #expect(throws: AdminError.self) { try plane.revokeKey(app: "1001", keyID: rotated.key.id) }
    }

    @Test func createdAppsGetTheNextNumericIDAndAreServedAtOnce() throws {
        let (plane, registry) = try Self.open(Self.config(path: ":memory:"))
        #expect(try plane.nextAppID() == "1002")
        let draft = StoredApp(id: "1002", key: ControlPlane.newKey(), name: "New", plan: "free", createdAt: 1)
        let (app, secret) = try plane.create(draft)
        #expect(secret.hasPrefix("sk_live_") && secret.count == 48)
        #expect(app.key.hasPrefix("pk_"))
        #expect(registry.app(key: app.key)?.secrets == [secret])
        #expect(throws: AdminError.self) { try plane.create(draft) }
    }
}

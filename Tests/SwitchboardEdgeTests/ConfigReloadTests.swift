import Foundation
import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Synchronization
import Testing

@testable import SwitchboardEdge

@Suite struct ConfigReloadTests {
    static func file(rule: String) -> String {
        """
        [store]
        path = ":memory:"

        [[apps]]
        id = "1001"
        key = "pk_reload"
        secret = "sk_reload_secret_1234"

        [[apps.channels]]
        \(rule)
        """
    }

    /// A config file in a fresh folder, its control plane opened on an in-memory store, and a reload of that file.
    static func setUp(_ text: String) throws -> (path: String, plane: ControlPlane, registry: AppRegistry, reload: ConfigReload) {
        let folder = NSTemporaryDirectory() + "reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/switchboard.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: path)
        let registry = AppRegistry(apps: [])
        let plane = try ControlPlane.open(
            store: SQLiteStore(path: ":memory:"),
            registry: registry,
            config: config,
            environment: ["SWITCHBOARD_MASTER_KEY": "master"],
            logger: Logger(label: "test")
        )
        let source = try #require(config.source)
        let reload = ConfigReload(source: source, started: config, metrics: nil, logger: Logger(label: "test")) { config in
            try plane.reload(config, logger: Logger(label: "test"))
        }
        return (path, plane, registry, reload)
    }

    @Test func aReloadedFileChangesTheRulesOfTheRunningApp() throws {
        let (path, _, registry, reload) = try Self.setUp(Self.file(rule: "match = \"chat:*\"\nclient_publish = true"))
        #expect(registry.app(id: "1001")?.policy(for: "chat:1").clientPublish == true)
        try Self.file(rule: "match = \"chat:*\"\nclient_publish = false\nrequire_token = true").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reload.perform() == .applied(restartNeeded: []))
        let policy = try #require(registry.app(id: "1001")?.policy(for: "chat:1"))
        #expect(!policy.clientPublish && policy.requireToken)
    }

    @Test func aBadFileKeepsTheOldRules() throws {
        let (path, _, registry, reload) = try Self.setUp(Self.file(rule: "match = \"chat:*\"\nclient_publish = false"))
        for broken in [Self.file(rule: "match = \"chat:*\"\nclient_publish = \"nope\""), "[[apps]\nid = ", Self.file(rule: "history_size = 3")] {
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            guard case .failed = reload.perform() else {
                Issue.record("a bad file was applied: \(broken)")
                continue
            }
            #expect(registry.app(id: "1001")?.policy(for: "chat:1").clientPublish == false)
        }
    }

    @Test func newAppsAndPlansApplyWhileRestartKeysAreOnlyNamed() throws {
        let (path, plane, registry, reload) = try Self.setUp(Self.file(rule: "match = \"chat:*\""))
        let edited = """
            [server]
            port = 9999

            [limits]
            max_queued_frames = 64
            commands_per_second = 3
            presence_timeout_seconds = 9

            [[alerts]]
            name = "many-connections"
            kind = "connections"
            threshold = 10
            url = "http://127.0.0.1:9/hook"
            secret = "alert-secret-1"

            [plans.free]
            history_size = 7

            \(Self.file(rule: "match = \"chat:*\"").replacingOccurrences(of: "[store]\npath = \":memory:\"\n", with: ""))

            [[apps]]
            id = "1002"
            key = "pk_added"
            secret = "sk_added_secret_1234"
            """
        try ("[store]\npath = \":memory:\"\n" + edited).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reload.perform() == .applied(restartNeeded: ["server"]))
        #expect(registry.app(key: "pk_added")?.id == "1002")
        #expect(plane.plans["free"]?.historySize == 7 && registry.app(id: "1001")?.plan.historySize == 7)
    }

    @Test func everyLimitAndAlertRuleAppliesWithoutARestart() throws {
        let running = SwitchboardConfig()
        var live = running
        live.limits.maxQueuedFrames = 16
        live.limits.sseKeepaliveSeconds = 2
        live.limits.compressionMinBytes = 1
        live.limits.newConnectionsPerIPPerSecond = 0
        live.limits.securityEventsPerIPPerSecond = 1
        live.limits.client.commandsPerSecond = 1
        live.limits.client.maxRefusals = 1
        live.limits.client.maxQueuedBytes = 65_536
        live.alerts = [try AlertRuleTests.rule(name: "added")]
        live.limits.writeBatchMilliseconds = 5
        live.limits.publishLagMilliseconds = 100
        live.limits.client.maxPresenceMetadataBytes = 64
        live.limits.presenceTimeoutSeconds = 5
        live.limits.uncountedAddresses = AddressRanges()
        live.server.trustedProxies = try TrustedProxies(["10.0.0.0/8"])
        live.admin.token = "a-rotated-admin-token-0123456789"
        live.admin.publicMetrics = true
        live.proxy.upstream = "http://127.0.0.1:3001"
        #expect(ConfigReload.restartNeeded(running: running, new: live).isEmpty)
        var restart = live
        restart.server.port = 1
        restart.admin.authFailuresPerMinute = 3
        restart.proxy.readTimeoutMilliseconds = 1
        #expect(ConfigReload.restartNeeded(running: running, new: restart) == ["server", "admin", "proxy"])
    }

    @Test func theLiveSettingsTakeAReloadedFilesAddressListsAdminTokenAndUpstreamAndNameWhatChanged() throws {
        let running = SwitchboardConfig()
        let farewells = ShutdownNotice()
        let live = LiveEdgeSettings(
            limits: LiveLimits(running.limits.live),
            trustedProxies: LiveSetting(running.server.trustedProxies),
            blocks: try AddressBlocks(configured: running.server.blockedAddresses, farewells: farewells, store: nil, logger: Logger(label: "test")),
            uncounted: LiveSetting(running.limits.uncountedAddresses),
            admin: LiveSetting(running.admin),
            proxyUpstream: LiveSetting(nil)
        )
        #expect(live.replace(with: running).isEmpty)
        var new = running
        new.server.trustedProxies = try TrustedProxies(["10.0.0.0/8"])
        new.limits.uncountedAddresses = AddressRanges()
        new.admin.token = "a-rotated-admin-token-0123456789"
        new.proxy.upstream = "http://127.0.0.1:3001/app"
        new.server.blockedAddresses = try AddressRanges(["203.0.113.0/24"])
        let sentAway = Mutex<[String: Farewell]>([:])
        for address in ["203.0.113.9", "198.51.100.9"] {
            _ = farewells.register(app: "1001", caller: Caller(ip: address)) { farewell in sentAway.withLock { $0[address] = farewell } }
        }
        #expect(
            live.replace(with: new) == [
                "[limits] uncounted_addresses", "[server] trusted_proxies", "[server] blocked_addresses", "[admin]", "[proxy] upstream",
            ]
        )
        // The connection open from the address just blocked is sent away; the other stays.
        #expect(sentAway.withLock { $0 } == ["203.0.113.9": .addressBlocked])
        #expect(live.proxyUpstream.current == ProxyUpstream("http://127.0.0.1:3001/app"))
        #expect(live.trustedProxies.current == new.server.trustedProxies && live.uncounted.current.isEmpty)
        #expect(live.admin.current.token == "a-rotated-admin-token-0123456789")
        new.limits.maxSocketsPerIP = 7
        #expect(live.replace(with: new) == ["[limits]"] && live.limits.current.maxSocketsPerIP == 7)
    }

    @Test func aReloadedAdminTokenTooWeakForTheRunningAddressesIsRefused() throws {
        var running = SwitchboardConfig()
        running.server.host = "0.0.0.0"
        running.admin.token = "a-long-random-admin-token-0123456789"
        var weak = running
        weak.server.host = "127.0.0.1"  // the file's host: the edge still listens where it started
        weak.admin.token = "short"
        #expect(LiveEdgeSettings.refusal(of: weak, running: running)?.key == "admin.token")
        #expect(LiveEdgeSettings.refusal(of: weak, running: running)?.problem.contains("only 5 characters") == true)
        weak.admin.token = nil
        #expect(LiveEdgeSettings.refusal(of: weak, running: running) == nil)
        running.server.host = "127.0.0.1"
        weak.admin.token = "short"
        #expect(LiveEdgeSettings.refusal(of: weak, running: running) == nil)
    }

    @Test func aReloadReplacesTheConfigAlertRulesKeepingUnchangedEpisodesAndTheAPIRules() throws {
        func rule(_ name: String, threshold: Int64) throws -> AlertRule {
            var rule = try AlertRuleTests.rule(threshold: threshold, name: name)
            rule.source = .config
            return rule
        }
        let center = try AlertCenterTests.center(
            rules: [try rule("kept", threshold: 1), try rule("changed", threshold: 1), try rule("removed", threshold: 1)],
            sources: AlertSources(connections: { 5 })
        )
        _ = try center.create(try AlertRuleTests.rule(threshold: 1, name: "from-api"))
        center.evaluate(now: 1)
        #expect(["kept", "changed", "removed", "from-api"].allSatisfy { center.firing(rule: $0).count == 1 })
        center.replaceConfigured([try rule("added", threshold: 100), try rule("changed", threshold: 2), try rule("kept", threshold: 1)])
        center.replaceConfigured([try rule("added", threshold: 100), try rule("changed", threshold: 2), try rule("kept", threshold: 1)])
        #expect(center.rules.map(\.name) == ["added", "changed", "kept", "from-api"])
        #expect(center.rules.first { $0.name == "changed" }?.threshold == 2)
        #expect(center.firing(rule: "kept")[""]?.started == 1 && center.firing(rule: "from-api")[""]?.started == 1)
        #expect(center.firing(rule: "changed").isEmpty && center.firing(rule: "removed").isEmpty)
        // A file rule named like an API rule leaves the API's in place.
        center.replaceConfigured([try rule("from-api", threshold: 100)])
        #expect(center.rules.map(\.name) == ["from-api"] && center.rules.first?.source == .api && center.rules.first?.threshold == 1)
    }

    @Test func adminRulesWinOverTheFileAndOutliveItsReload() throws {
        let (path, plane, registry, reload) = try Self.setUp(Self.file(rule: "match = \"chat:*\""))
        try plane.applyLive(LiveAppSettings(channelRules: [ChannelRule(match: "chat:*", requireToken: true)]), app: "1001")
        #expect(registry.app(id: "1001")?.policy(for: "chat:1").requireToken == true)
        #expect(try plane.channelRules(app: "1001").source == .admin)
        try Self.file(rule: "match = \"chat:*\"\nclient_publish = false").write(toFile: path, atomically: true, encoding: .utf8)
        reload.perform()
        let policy = try #require(registry.app(id: "1001")?.policy(for: "chat:1"))
        #expect(policy.requireToken && policy.clientPublish)
        try plane.applyLive(LiveAppSettings(), app: "1001")
        #expect(registry.app(id: "1001")?.policy(for: "chat:1").clientPublish == false)
        #expect(try plane.channelRules(app: "1001").source == .config)
    }

    @Test func liveSettingsAreKeptInTheStoreAcrossARestart() throws {
        let path = NSTemporaryDirectory() + "live-\(UUID().uuidString)/store.sqlite"
        var config = SwitchboardConfig()
        config.store.path = path
        config.apps = [App(id: "1001", key: "pk_one", secrets: ["sk_config_secret_1234"], channelRules: [ChannelRule(match: "a")])]
        func open() throws -> (ControlPlane, AppRegistry) {
            let registry = AppRegistry(apps: [])
            let store = try SQLiteStore(path: path)
            let plane = try ControlPlane.open(
                store: store,
                registry: registry,
                config: config,
                environment: ["SWITCHBOARD_MASTER_KEY": "master"],
                logger: Logger(label: "test")
            )
            return (plane, registry)
        }
        do {
            let (plane, _) = try open()
            let hooks = WebhookSettings(url: "https://hooks.example.com/x")
            try plane.applyLive(LiveAppSettings(channelRules: [ChannelRule(match: "b", clientPublish: false)], webhooks: .on(hooks)), app: "1001")
        }
        let (_, registry) = try open()
        let app = try #require(registry.app(id: "1001"))
        #expect(app.channelRules.map(\.match) == ["b"] && app.webhooks?.url == "https://hooks.example.com/x")
    }
}

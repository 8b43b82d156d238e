import Crypto
import Foundation
import Logging
import SwitchboardCore
import SwitchboardStore
import Synchronization
import Testing

@testable import SwitchboardEdge

@Suite struct AlertEpisodesTests {
    @Test func aConditionThatLastsNotifiesOnceWhenItStartsAndOnceWhenItEnds() {
        var episodes = AlertEpisodes()
        #expect(episodes.observe(rule: "r", active: [:], now: 0).isEmpty)
        let started = episodes.observe(rule: "r", active: ["": 5], now: 1_000)
        #expect(started == [.init(rule: "r", subject: "", state: .firing, value: 5, started: 1_000, ended: nil)])
        for second in 2...10 { #expect(episodes.observe(rule: "r", active: ["": Int64(second)], now: Int64(second) * 1_000).isEmpty) }
        #expect(episodes.firing(rule: "r")[""]?.latest == 10)
        let ended = episodes.observe(rule: "r", active: [:], now: 11_000)
        #expect(ended == [.init(rule: "r", subject: "", state: .resolved, value: 10, started: 1_000, ended: 11_000)])
        #expect(episodes.observe(rule: "r", active: [:], now: 12_000).isEmpty)
        #expect(episodes.firing(rule: "r").isEmpty)
    }

    @Test func aConditionThatReturnsStartsANewEpisode() {
        var episodes = AlertEpisodes()
        _ = episodes.observe(rule: "r", active: ["": 1], now: 0)
        _ = episodes.observe(rule: "r", active: [:], now: 1)
        let again = episodes.observe(rule: "r", active: ["": 2], now: 2)
        #expect(again.map(\.state) == [.firing])
        #expect(again.first?.started == 2)
    }

    @Test func subjectsOfOneRuleHaveTheirOwnEpisodes() {
        var episodes = AlertEpisodes()
        let first = episodes.observe(rule: "usage", active: ["1001 at 80%": 80], now: 0)
        #expect(first.map(\.subject) == ["1001 at 80%"])
        let second = episodes.observe(rule: "usage", active: ["1001 at 80%": 100, "1001 at 100%": 100, "2002 at 80%": 90], now: 1)
        #expect(second.map(\.subject) == ["1001 at 100%", "2002 at 80%"])
        #expect(second.allSatisfy { $0.state == .firing })
        // A new month: every subject ends.
        let reset = episodes.observe(rule: "usage", active: [:], now: 2)
        #expect(reset.map(\.subject) == ["1001 at 100%", "1001 at 80%", "2002 at 80%"])
        #expect(reset.allSatisfy { $0.state == .resolved })
    }

    @Test func rulesDoNotShareEpisodesAndAForgottenRuleEndsSilently() {
        var episodes = AlertEpisodes()
        _ = episodes.observe(rule: "a", active: ["": 1], now: 0)
        #expect(episodes.observe(rule: "b", active: ["": 1], now: 0).count == 1)
        episodes.forget(rule: "a")
        #expect(episodes.firing(rule: "a").isEmpty)
        #expect(episodes.observe(rule: "a", active: [:], now: 1).isEmpty)
        #expect(episodes.firing(rule: "b").count == 1)
    }
}

@Suite struct AlertRuleTests {
    static func rule(
        kind: String? = "connections",
        threshold: Int64? = 10,
        url: String? = "http://127.0.0.1:9/hook",
        secret: String? = "alert-secret-1",
        event: String? = nil,
        app: String? = nil,
        window: Int64? = nil,
        name: String? = "conn"
    ) throws(AlertRule.Problem) -> AlertRule {
        try AlertRule.validated(
            name: name,
            kind: kind,
            threshold: threshold,
            url: url,
            secret: secret,
            event: event,
            app: app,
            windowSeconds: window,
            source: .api
        )
    }

    @Test func validRulesOfEveryKindAreAccepted() throws {
        #expect(try Self.rule().threshold == 10)
        let security = try Self.rule(kind: "security_events", threshold: 3, event: "forbidden", app: "1001", window: 5)
        #expect(security.event == .forbidden && security.windowSeconds == 5 && security.app == "1001")
        #expect(try Self.rule(kind: "security_events", threshold: 3, event: "rate_limited").windowSeconds == 60)
        #expect(try Self.rule(kind: "usage", threshold: nil).threshold == 80)
        #expect(try Self.rule(kind: "engine_unavailable", threshold: nil).kind == .engineUnavailable)
    }

    @Test func badFieldsAreRefusedNamingTheField() {
        func field(_ make: () throws(AlertRule.Problem) -> AlertRule) -> String? {
            do {
                _ = try make()
                return nil
            } catch {
                return error.field
            }
        }
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(name: nil) } == "name")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(name: "bad name") } == "name")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(name: String(repeating: "a", count: 65)) } == "name")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(kind: "disk_full") } == "kind")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(url: "ftp://example.com/") } == "url")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(url: "http://user:pw@example.com/") } == "url")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(url: "http://" + String(repeating: "a", count: 2048)) } == "url")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(secret: "short") } == "secret")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(threshold: nil) } == "threshold")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(threshold: -1) } == "threshold")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(kind: "security_events", threshold: 3) } == "event")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(kind: "security_events", threshold: 3, event: "nope") } == "event")
        #expect(
            field { () throws(AlertRule.Problem) in try Self.rule(kind: "security_events", threshold: 3, event: "forbidden", window: 0) }
                == "window_seconds"
        )
        #expect(
            field { () throws(AlertRule.Problem) in try Self.rule(kind: "security_events", threshold: 3, event: "forbidden", window: 3601) }
                == "window_seconds"
        )
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(kind: "usage", threshold: 101) } == "threshold")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(kind: "engine_unavailable", threshold: 1) } == "threshold")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(event: "forbidden") } == "event")
        #expect(field { () throws(AlertRule.Problem) in try Self.rule(app: "1001") } == "app")
    }
}

@Suite struct AlertCenterTests {
    final class Clock: Sendable {
        let now = Mutex<Int64>(1_000_000)
        func advance(seconds: Int64) { self.now.withLock { $0 += seconds * 1000 } }
        var milliseconds: Int64 { self.now.withLock { $0 } }
    }

    static func center(rules: [AlertRule], sources: AlertSources, counter: AlertSecurityCounter = AlertSecurityCounter()) throws -> AlertCenter {
        let store = try SQLiteStore(path: ":memory:")
        return try AlertCenter(
            configured: rules,
            store: AlertRuleStore(store: store, box: SecretBox(key: SymmetricKey(size: .bits256))),
            sources: sources,
            delivery: AlertDelivery(logger: Logger(label: "test")),
            counter: counter,
            engineGrace: 0,
            logger: Logger(label: "test")
        )
    }

    @Test func aSecurityEventBurstFiresOnceAndResolvesAfterItsWindow() throws {
        let clock = Clock()
        let counter = AlertSecurityCounter(clock: { clock.milliseconds })
        var rule = try AlertRuleTests.rule(kind: "security_events", threshold: 3, event: "forbidden", window: 5, name: "forbidden-burst")
        rule.source = .config
        let center = try Self.center(rules: [rule], sources: AlertSources(), counter: counter)
        for _ in 0..<3 { counter.record(SecurityEvent(time: 0, app: "1001", kind: .forbidden, detail: "x")) }
        counter.record(SecurityEvent(time: 0, app: "1001", kind: .rateLimited, detail: "other kind"))
        center.evaluate(now: clock.milliseconds)
        #expect(center.firing(rule: "forbidden-burst").isEmpty)
        counter.record(SecurityEvent(time: 0, app: "1001", kind: .forbidden, detail: "x"))
        center.evaluate(now: clock.milliseconds)
        #expect(center.firing(rule: "forbidden-burst")[""]?.value == 4)
        clock.advance(seconds: 4)
        center.evaluate(now: clock.milliseconds)
        #expect(center.firing(rule: "forbidden-burst").count == 1)
        clock.advance(seconds: 1)
        center.evaluate(now: clock.milliseconds)
        #expect(center.firing(rule: "forbidden-burst").isEmpty)
    }

    @Test func connectionsEngineAndUsageRulesFollowTheirSources() throws {
        let connections = Mutex(0)
        let available = Mutex(true)
        let used = Mutex<UInt64>(0)
        let sources = AlertSources(
            connections: { connections.withLock { $0 } },
            engineAvailable: { available.withLock { $0 } },
            usage: { [(app: "1001", used: used.withLock { $0 }, limit: 1000), (app: "2002", used: 5000, limit: nil)] }
        )
        let rules = try [
            AlertRuleTests.rule(threshold: 2, name: "conn"),
            AlertRuleTests.rule(kind: "engine_unavailable", threshold: nil, name: "engine"),
            AlertRuleTests.rule(kind: "usage", threshold: nil, name: "usage"),
        ]
        let center = try Self.center(rules: rules, sources: sources)
        center.evaluate(now: 1)
        #expect(rules.allSatisfy { center.firing(rule: $0.name).isEmpty })
        connections.withLock { $0 = 3 }
        available.withLock { $0 = false }
        used.withLock { $0 = 800 }
        center.evaluate(now: 2)
        #expect(center.firing(rule: "conn")[""]?.value == 3)
        #expect(center.firing(rule: "engine").count == 1)
        #expect(Set(center.firing(rule: "usage").keys) == ["1001 at 80%"])
        used.withLock { $0 = 1000 }
        center.evaluate(now: 3)
        #expect(Set(center.firing(rule: "usage").keys) == ["1001 at 80%", "1001 at 100%"])
        connections.withLock { $0 = 2 }
        available.withLock { $0 = true }
        center.evaluate(now: 4)
        #expect(center.firing(rule: "conn").isEmpty)
        #expect(center.firing(rule: "engine").isEmpty)
    }

    @Test func apiRulesAreStoredAndConfigRulesCannotBeDeleted() throws {
        let store = try SQLiteStore(path: ":memory:")
        let rules = AlertRuleStore(store: store, box: SecretBox(key: SymmetricKey(size: .bits256)))
        var configured = try AlertRuleTests.rule(name: "from-config")
        configured.source = .config
        let center = try AlertCenter(
            configured: [configured],
            store: rules,
            sources: AlertSources(),
            delivery: AlertDelivery(logger: Logger(label: "test")),
            logger: Logger(label: "test")
        )
        _ = try center.create(try AlertRuleTests.rule(name: "from-api"))
        #expect(throws: AdminError.self) { try center.create(try AlertRuleTests.rule(name: "from-config")) }
        #expect(try rules.rules().map(\.name) == ["from-api"])
        #expect(try rules.rules().first?.secret == "alert-secret-1")
        // A restart loads the API's rules again, after the config's.
        let restarted = try AlertCenter(
            configured: [configured],
            store: rules,
            sources: AlertSources(),
            delivery: AlertDelivery(logger: Logger(label: "test")),
            logger: Logger(label: "test")
        )
        #expect(restarted.rules.map(\.name) == ["from-config", "from-api"])
        #expect(restarted.rules.map(\.source) == [.config, .api])
        guard case .configured = try center.delete(name: "from-config") else {
            Issue.record("config rule deleted")
            return
        }
        guard case .notFound = try center.delete(name: "nope") else {
            Issue.record("unknown rule deleted")
            return
        }
        guard case .deleted = try center.delete(name: "from-api") else {
            Issue.record("api rule not deleted")
            return
        }
        #expect(try rules.rules().isEmpty)
        #expect(center.rules.map(\.name) == ["from-config"])
    }
}

@Suite struct AlertConfigTests {
    static let rules = """
        [[alerts]]
        name = "forbidden-burst"
        kind = "security_events"
        event = "forbidden"
        threshold = 20
        url = "https://ops.example.com/hooks/switchboard"
        secret = "alert-secret-1"

        [[alerts]]
        name = "engine"
        kind = "engine_unavailable"
        url = "https://ops.example.com/hooks/switchboard"
        secret = "alert-secret-2"
        """

    @Test func alertEntriesAreReadWithTheirDefaults() throws {
        let config = try ConfigLoader.parse(Self.rules)
        #expect(config.alerts.map(\.name) == ["forbidden-burst", "engine"])
        #expect(config.alerts[0].windowSeconds == 60 && config.alerts[0].event == .forbidden && config.alerts[0].source == .config)
        #expect(config.alerts[1].kind == .engineUnavailable)
    }

    @Test func badAlertEntriesNameTheirKey() {
        let cases: [(String, String)] = [
            (Self.rules.replacingOccurrences(of: "threshold = 20", with: "threshold = -5"), "alerts[0].threshold"),
            (Self.rules.replacingOccurrences(of: "name = \"engine\"", with: "name = \"forbidden-burst\""), "alerts[1].name"),
            (Self.rules.replacingOccurrences(of: "event = \"forbidden\"", with: "events = \"forbidden\""), "alerts[0].events"),
            (Self.rules.replacingOccurrences(of: "https://ops", with: "ftp://ops"), "alerts[0].url"),
            (Self.rules + "\nthreshold = 3\n", "alerts[1].threshold"),
        ]
        for (text, key) in cases {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse(text) }
            do {
                _ = try ConfigLoader.parse(text)
            } catch {
                #expect(error.key == key, "\(error)")
            }
        }
    }
}

import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct ConfigLoaderLimitsTests {
    @Test func proxyLimitsAndMetricsKeysAreRead() throws {
        let config = try ConfigLoader.parse(
            """
            [admin]
            public_metrics = true
            [limits]
            new_connections_per_ip_per_second = 7
            [proxy]
            upstream = "http://127.0.0.1:3000"
            connect_timeout_ms = 250
            read_timeout_ms = 900
            [plans.free]
            max_subscriptions_per_connection = 3
            [[apps]]
            id = "1"
            key = "k"
            secret = "s"
            upstream = "https://backend.example.com/base"
            """
        )
        #expect(config.admin.publicMetrics)
        #expect(config.limits.newConnectionsPerIPPerSecond == 7)
        #expect(config.proxy.upstream == "http://127.0.0.1:3000")
        #expect(config.proxy.connectTimeoutMilliseconds == 250 && config.proxy.readTimeoutMilliseconds == 900)
        #expect(config.plans["free"]?.maxSubscriptionsPerConnection == 3)
        #expect(config.apps[0].upstream == "https://backend.example.com/base")
    }

    @Test func thePublishLagIsTwentyMillisecondsUnlessSetAndZeroTurnsItOff() throws {
        #expect(try ConfigLoader.parse("").limits.publishLagMilliseconds == 20)
        #expect(try ConfigLoader.parse("[limits]\npublish_lag_ms = 0").limits.publishLagMilliseconds == 0)
        #expect(try ConfigLoader.parse("[limits]\npublish_lag_ms = 250").limits.live.publishLagMilliseconds == 250)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\npublish_lag_ms = -1") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\npublish_lag_ms = 10001") }
    }

    @Test func keptHistoryMayHold256MegabytesUnlessSetAndNeverNothing() throws {
        #expect(try ConfigLoader.parse("").limits.maxHistoryMegabytes == 256)
        #expect(try ConfigLoader.parse("[limits]\nmax_history_mb = 64").limits.live.maxHistoryMegabytes == 64)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\nmax_history_mb = 0") }
    }

    @Test func anAddressMayHoldAThousandConnectionsUnlessSetAndZeroLiftsTheLimit() throws {
        #expect(try ConfigLoader.parse("").limits.maxConnectionsPerIP == 1000)
        #expect(try ConfigLoader.parse("[limits]\nmax_connections_per_ip = 0").limits.live.maxConnectionsPerIP == 0)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\nmax_connections_per_ip = -1") }
    }

    @Test func anAddressMayHold1200SocketsUnlessSetAndZeroLiftsTheLimit() throws {
        #expect(try ConfigLoader.parse("").limits.live.maxSocketsPerIP == 1200)
        #expect(try ConfigLoader.parse("[limits]\nmax_sockets_per_ip = 0").limits.live.maxSocketsPerIP == 0)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\nmax_sockets_per_ip = -1") }
    }

    @Test func automaticBlocksAreOffUnlessSetAndLastTenMinutesInAWindowOfAMinute() throws {
        let defaults = try ConfigLoader.parse("").limits.live
        #expect(defaults.autoBlockRefusals == 0 && defaults.autoBlockWindowSeconds == 60 && defaults.autoBlockSeconds == 600)
        let set = try ConfigLoader.parse("[limits]\nauto_block_refusals = 20\nauto_block_window_seconds = 10\nauto_block_seconds = 86400")
        #expect(set.limits.live.autoBlockRefusals == 20 && set.limits.live.autoBlockWindowSeconds == 10 && set.limits.live.autoBlockSeconds == 86_400)
        #expect(!defaults.autoBlockKinds.contains(.appDisabled) && defaults.autoBlockKinds.contains(.badSignature))
        let kinds = try ConfigLoader.parse("[limits]\nauto_block_kinds = [\"bad_signature\", \"token_invalid\"]").limits.live.autoBlockKinds
        #expect(kinds == [.badSignature, .tokenInvalid])
        let refused = [
            "auto_block_refusals = -1", "auto_block_window_seconds = 0", "auto_block_seconds = 0", "auto_block_seconds = 31536001",
            "auto_block_kinds = [\"address_blocked\"]", "auto_block_kinds = [\"bad_signature\", \"nope\"]",
        ]
        for bad in refused {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\n" + bad) }
        }
    }

    @Test func loopbackIsUncountedUnlessTheListSaysOtherwiseAndABadEntryIsNamed() throws {
        #expect(try ConfigLoader.parse("").limits.uncountedAddresses == .loopback)
        let listed = try ConfigLoader.parse("[limits]\nuncounted_addresses = [\"10.0.0.0/8\", \"192.0.2.7\"]").limits.uncountedAddresses
        #expect(listed.networks.map(\.description) == ["10.0.0.0/8", "192.0.2.7/32"])
        #expect(try ConfigLoader.parse("[limits]\nuncounted_addresses = []").limits.uncountedAddresses.isEmpty)
        do {
            _ = try ConfigLoader.parse("[limits]\nuncounted_addresses = [\"::1/128\", \"localhost\"]")
            Issue.record("a host name was taken for an address")
        } catch {
            #expect(error.key == "limits.uncounted_addresses[1]")
        }
    }

    @Test func theTokenExpiryGraceIsTwoSecondsUnlessSetUpToAnHour() throws {
        #expect(try ConfigLoader.parse("").limits.client.tokenExpiryGraceSeconds == 2)
        #expect(try ConfigLoader.parse("[limits]\ntoken_expiry_grace_seconds = 25").limits.live.client.tokenExpiryGraceSeconds == 25)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\ntoken_expiry_grace_seconds = -1") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\ntoken_expiry_grace_seconds = 3601") }
    }

    @Test func defaultsAllowFiftyNewConnectionsPerAddressAndNoPublicMetrics() throws {
        let config = try ConfigLoader.parse("")
        #expect(config.limits.newConnectionsPerIPPerSecond == 50)
        #expect(!config.admin.publicMetrics)
        #expect(config.proxy.upstream == nil)
        #expect(config.proxy.connectTimeoutMilliseconds == 5_000 && config.proxy.readTimeoutMilliseconds == 30_000)
    }

    @Test func builtInPlansLimitSubscriptionsPerConnection() {
        #expect(Plan.free.maxSubscriptionsPerConnection == 100)
        #expect(Plan.builder.maxSubscriptionsPerConnection == 200)
        #expect(Plan.pro.maxSubscriptionsPerConnection == 500)
        #expect(Plan.enterprise.maxSubscriptionsPerConnection == 1_000)
    }

    @Test func anUpstreamMustBeAnHTTPURL() {
        #expect(throws: ConfigError(key: "proxy.upstream", problem: "\"ftp://x\" is not an http:// or https:// URL")) {
            try ConfigLoader.parse("[proxy]\nupstream = \"ftp://x\"")
        }
        #expect(throws: ConfigError(key: "apps[0].upstream", problem: "\"localhost:3000\" is not an http:// or https:// URL")) {
            try ConfigLoader.parse("[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\nupstream = \"localhost:3000\"")
        }
    }
}

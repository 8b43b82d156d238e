import SwitchboardAdapterKit
import Testing

@testable import SwitchboardEdge

@Suite struct ConfigLoaderHostileEdgeTests {
    @Test func trustedProxiesDefaultToNone() throws {
        let config = try ConfigLoader.parse("")
        #expect(config.server.trustedProxies.isEmpty)
        #expect(config.engine.commandTimeoutMilliseconds == 2000)
    }

    @Test func trustedProxiesAreParsedAsRanges() throws {
        let config = try ConfigLoader.parse(
            """
            [server]
            trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.0.2.7"]
            """
        )
        #expect(config.server.trustedProxies.networks.map(\.description) == ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.0.2.7/32"])
    }

    @Test func aMalformedTrustedProxyNamesItsIndex() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0/8\"]") }
        do {
            _ = try ConfigLoader.parse("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0/8\"]")
        } catch {
            #expect(error.key == "server.trusted_proxies[1]")
        }
    }

    @Test func blockedAddressesDefaultToNoneAndABadEntryIsNamedByItsIndex() throws {
        #expect(try ConfigLoader.parse("").server.blockedAddresses.isEmpty)
        let blocked = try ConfigLoader.parse("[server]\nblocked_addresses = [\"203.0.113.0/24\", \"2001:db8::1\"]").server.blockedAddresses
        #expect(blocked.networks.map(\.description) == ["203.0.113.0/24", "2001:db8::1/128"])
        do {
            _ = try ConfigLoader.parse("[server]\nblocked_addresses = [\"203.0.113.0/24\", \"example.com\"]")
            Issue.record("a host name was accepted as a blocked address")
        } catch {
            #expect(error.key == "server.blocked_addresses[1]")
        }
    }

    @Test func theRedisCommandTimeoutIsConfigurable() throws {
        #expect(try ConfigLoader.parse("[engine]\ncommand_timeout_ms = 250").engine.commandTimeoutMilliseconds == 250)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[engine]\ncommand_timeout_ms = 0") }
    }
}

@Suite struct ConfigLoaderUpstreamTests {
    @Test func upstreamsWithUserInfoOrAQueryAreRefusedAtLoad() {
        for url in ["http://user@127.0.0.1:3000", "http://127.0.0.1:3000/?a=1"] {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse("[proxy]\nupstream = \"\(url)\"") }
        }
    }
}

import Testing

@testable import SwitchboardEdge

@Suite struct StoreAndAdminConfigTests {
    @Test func storeAndAdminKeysHaveTheirDefaults() throws {
        let config = try ConfigLoader.parse("")
        #expect(config.store.masterKey == nil)
        #expect(config.store.securityEventRetentionMilliseconds == 7 * 86_400_000)
        #expect(config.store.securityEventMaxRows == 100_000)
        #expect(config.admin.authFailuresPerMinute == 10)
    }

    @Test func storeAndAdminKeysAreRead() throws {
        let config = try ConfigLoader.parse(
            """
            [store]
            master_key = "passphrase"
            security_event_retention = "36h"
            security_event_max_rows = 500
            [admin]
            auth_failures_per_minute = 3
            """
        )
        #expect(config.store.masterKey == "passphrase")
        #expect(config.store.securityEventRetentionMilliseconds == 36 * 3_600_000)
        #expect(config.store.securityEventMaxRows == 500)
        #expect(config.admin.authFailuresPerMinute == 3)
    }

    @Test func aBadRetentionNamesItsKey() {
        #expect(throws: ConfigError(key: "store.security_event_retention", problem: "\"forever\" is not a duration like 24h or 7d")) {
            try ConfigLoader.parse("[store]\nsecurity_event_retention = \"forever\"")
        }
    }
}

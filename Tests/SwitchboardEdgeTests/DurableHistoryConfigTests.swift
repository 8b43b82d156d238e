import Testing

@testable import SwitchboardEdge

@Suite struct DurableHistoryConfigTests {
    @Test func historyIsDurableByDefaultAndFlushedEvery50Milliseconds() throws {
        let config = try ConfigLoader.parse("[store]\npath = \"x.sqlite\"")
        #expect(config.store.durableHistory)
        #expect(config.store.historyFlushMilliseconds == 50)
    }

    @Test func storeKeysTurnDurableHistoryOffAndSetTheFlushInterval() throws {
        let config = try ConfigLoader.parse("[store]\ndurable_history = false\nhistory_flush_ms = 200")
        #expect(!config.store.durableHistory)
        #expect(config.store.historyFlushMilliseconds == 200)
    }

    @Test func aFlushIntervalOutOfRangeNamesItsKey() {
        #expect(throws: ConfigError(key: "store.history_flush_ms", problem: "must be between 1 and 60000")) {
            try ConfigLoader.parse("[store]\nhistory_flush_ms = 0")
        }
        #expect(throws: ConfigError(key: "store.durable_history", problem: "must be true or false")) {
            try ConfigLoader.parse("[store]\ndurable_history = \"yes\"")
        }
    }
}

import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

/// The single-node memory engine with its history saved in the store: `[store] durable_history` (default true).
///
/// Restored streams keep their epoch and offsets, so clients that reconnect after a restart recover what they missed.
enum DurableHistory {
    /// The memory engine, restored from `store` and journaling to it; the journal is the service to run, nil when history is not durable.
    static func memoryEngine(config: SwitchboardConfig, store: SQLiteStore, logger: Logger) throws -> (any Engine, (any Service)?) {
        guard config.store.durableHistory else { return (MemoryEngine(), nil) }
        let journal = SQLiteHistoryJournal(store: store, interval: .milliseconds(config.store.historyFlushMilliseconds), logger: logger)
        let restored = try journal.restore(now: WallClock.milliseconds())
        let messages = restored.reduce(0) { $0 + $1.history.count }
        logger.info("history restored", metadata: ["channels": "\(restored.count)", "messages": "\(messages)"])
        return (MemoryEngine(restored: restored, journal: journal), journal)
    }
}

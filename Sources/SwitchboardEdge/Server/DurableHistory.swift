import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

/// The single-node memory engine with its history saved in the store: `[store] durable_history` (default true).
///
/// Restored streams keep their epoch and offsets, so clients that reconnect after a restart recover what they missed.
enum DurableHistory {
    /// The memory engine, restored from `store` and journaling to it; the journal is the service to run, nil when history is not durable.
    /// Its kept messages stay within `[limits] max_history_mb` as it stands at each publish.
    static func memoryEngine(
        config: SwitchboardConfig,
        store: SQLiteStore,
        limits: LiveLimits,
        logger: Logger
    ) throws -> (any Engine, (any Service)?) {
        let budget = limits.reader { $0.maxHistoryMegabytes << 20 }
        guard config.store.durableHistory else { return (MemoryEngine(maxHistoryBytes: budget), nil) }
        let journal = SQLiteHistoryJournal(store: store, interval: .milliseconds(config.store.historyFlushMilliseconds), logger: logger)
        let restored = try journal.restore(now: WallClock.milliseconds())
        let messages = restored.reduce(0) { $0 + $1.history.count }
        logger.info("history restored", metadata: ["channels": "\(restored.count)", "messages": "\(messages)"])
        return (MemoryEngine(restored: restored, journal: journal, maxHistoryBytes: budget), journal)
    }
}

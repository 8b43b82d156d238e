import GRDB

extension StoreMigration {
    /// Durable history of the memory engine: `history_stream` (one row per channel: its epoch, last offset and the
    /// bounds it is kept under, kept even when no message is left so positions stay recoverable) and
    /// `history_entry` (the kept messages, `data` as the published JSON bytes) and `history_state` (`open` is 1 while a
    /// server writes history, so the next start knows whether the last one crashed).
    static let history = StoreMigration(name: "v3_history") { db in
        try db.create(table: "history_stream") { t in
            t.column("app", .text).notNull()
            t.column("channel", .text).notNull()
            t.column("epoch", .text).notNull()
            t.column("last_seq", .integer).notNull()
            t.column("size", .integer).notNull()
            t.column("ttl_ms", .integer).notNull()
            t.column("updated_at", .integer).notNull()
            t.primaryKey(["app", "channel"])
        }
        try db.create(table: "history_entry", options: .withoutRowID) { t in
            t.column("app", .text).notNull()
            t.column("channel", .text).notNull()
            t.column("seq", .integer).notNull()
            t.column("time", .integer).notNull().indexed()
            t.column("event", .text)
            t.column("user_id", .text)
            t.column("data", .blob).notNull()
            t.primaryKey(["app", "channel", "seq"])
        }
        try db.create(table: "history_state") { t in
            t.primaryKey("name", .text)
            t.column("value", .integer).notNull()
        }
    }
}

import GRDB

extension StoreMigration {
    /// `usage_daily`: one row per app, UTC day and counter (`in.<protocol>`, `out`, `peak_connections`), added to by each flush.
    static let usage = StoreMigration(name: "v6_usage_daily") { db in
        try db.create(table: "usage_daily") { t in
            t.column("app", .text).notNull()
            t.column("day", .integer).notNull()
            t.column("metric", .text).notNull()
            t.column("value", .integer).notNull()
            t.primaryKey(["app", "day", "metric"])
        }
        try db.create(index: "usage_daily_day", on: "usage_daily", columns: ["day"])
    }
}

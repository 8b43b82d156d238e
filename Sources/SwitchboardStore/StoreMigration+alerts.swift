import GRDB

extension StoreMigration {
    /// `alert_rule`: the alert rules made through the admin API (config rules are never stored), the webhook secret
    /// sealed with the master key like app secrets, the optional fields NULL when unused.
    static let alerts = StoreMigration(name: "v5_alert_rules") { db in
        try db.create(table: "alert_rule") { t in
            t.primaryKey("name", .text)
            t.column("kind", .text).notNull()
            t.column("threshold", .integer).notNull()
            t.column("url", .text).notNull()
            t.column("secret_sealed", .blob).notNull()
            t.column("nonce", .blob).notNull()
            t.column("event", .text)
            t.column("app", .text)
            t.column("window_seconds", .integer).notNull()
            t.column("created_at", .integer).notNull()
        }
    }
}

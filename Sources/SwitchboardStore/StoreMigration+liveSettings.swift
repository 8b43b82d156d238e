import GRDB

extension StoreMigration {
    /// `app_live_settings`: channel rules and webhooks set through the admin API, one JSON document per app (the same
    /// text a Redis cluster shares between nodes), so they outlive restarts and win over the config file.
    static let liveSettings = StoreMigration(name: "v4_app_live_settings") { db in
        try db.create(table: "app_live_settings") { t in
            t.primaryKey("app_id", .text)
            t.column("document", .text).notNull()
            t.column("updated_at", .integer).notNull()
        }
    }
}

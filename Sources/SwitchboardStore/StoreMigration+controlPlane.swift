import GRDB

extension StoreMigration {
    /// The control plane: `app` (admin-editable fields; origins and hosts as JSON arrays of strings, since they are
    /// always read and written whole), `app_key` (secrets sealed with AES-GCM, never in plaintext) and `store_meta`
    /// (a sealed check value that tells a wrong master key at start).
    static let controlPlane = StoreMigration(name: "v2_control_plane") { db in
        try db.create(table: "app") { t in
            t.primaryKey("id", .text)
            t.column("key", .text).notNull().unique()
            t.column("name", .text).notNull()
            t.column("plan", .text).notNull()
            t.column("environment", .text).notNull()
            t.column("region", .text).notNull()
            t.column("enabled", .boolean).notNull()
            t.column("origins", .text).notNull()
            t.column("hosts", .text).notNull()
            t.column("client_events", .boolean).notNull()
            t.column("upstream", .text)
            // Limit overrides: NULL takes the plan's value; 0 means unlimited for connections, channels and publishes.
            t.column("max_connections", .integer)
            t.column("max_channels", .integer)
            t.column("max_message_bytes", .integer)
            t.column("publishes_per_minute", .integer)
            t.column("history_size", .integer)
            t.column("created_at", .integer).notNull()
        }
        try db.create(table: "app_key") { t in
            t.primaryKey("id", .text)
            t.column("app_id", .text).notNull().indexed().references("app", onDelete: .cascade)
            t.column("secret_sealed", .blob).notNull()
            t.column("nonce", .blob).notNull()
            t.column("preview", .text).notNull()
            t.column("created_at", .integer).notNull()
            t.column("revoked_at", .integer)
        }
        try db.create(table: "store_meta") { t in
            t.primaryKey("name", .text)
            t.column("value", .blob).notNull()
        }
    }
}

import GRDB

extension StoreMigration {
    /// `address_blocks`: addresses and ranges the admin API blocked, so a block outlives a restart; `expires_at` is null
    /// for a block that lasts until it is removed.
    static let addressBlocks = StoreMigration(name: "v8_address_blocks") { db in
        try db.create(table: "address_blocks") { t in
            t.primaryKey("address", .text)
            t.column("reason", .text).notNull()
            t.column("created_at", .integer).notNull()
            t.column("expires_at", .integer)
        }
    }
}

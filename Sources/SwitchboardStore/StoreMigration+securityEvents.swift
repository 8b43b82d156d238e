import GRDB

extension StoreMigration {
    /// `security_event`: one row per refusal, pruned by age and count.
    static let securityEvents = StoreMigration(name: "v1-security-events") { db in
        try db.create(table: "security_event") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("time", .integer).notNull().indexed()
            t.column("app", .text).indexed()
            t.column("kind", .text).notNull()
            t.column("client_ip", .text)
            t.column("origin", .text)
            t.column("user_agent", .text)
            t.column("detail", .text).notNull()
        }
    }
}

import GRDB

extension SQLiteStore {
    /// Every app's stored live settings document, by app id.
    public func liveSettingsDocuments() throws -> [String: String] {
        try self.database.read { db in
            var documents: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT app_id, document FROM app_live_settings") {
                documents[row["app_id"]] = row["document"]
            }
            return documents
        }
    }

    /// Stores `document` as app `app`'s live settings, or removes them when it is nil (the config's settings apply again).
    public func setLiveSettingsDocument(_ document: String?, app: String, now: Int64) throws {
        try self.database.write { db in
            if let document {
                try db.execute(
                    sql: """
                        INSERT INTO app_live_settings (app_id, document, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT(app_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
                        """,
                    arguments: [app, document, now]
                )
            } else {
                try db.execute(sql: "DELETE FROM app_live_settings WHERE app_id = ?", arguments: [app])
            }
        }
    }
}

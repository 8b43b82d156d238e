import GRDB

extension StoreMigration {
    /// `history_entry` gains what a publication may carry besides its event and user: `tags` (a JSON object of strings),
    /// `client_id` and `conn_info` (the publisher's JSON bytes). Rows saved before stay NULL: no tags, no client info.
    static let historyPublicationInfo = StoreMigration(name: "v7_history_publication_info") { db in
        try db.alter(table: "history_entry") { t in
            t.add(column: "tags", .text)
            t.add(column: "client_id", .text)
            t.add(column: "conn_info", .blob)
        }
    }
}

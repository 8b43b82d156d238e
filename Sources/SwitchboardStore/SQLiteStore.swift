import Foundation
import GRDB
public import SwitchboardCore

/// The control-plane store on SQLite (GRDB, WAL): security events now; apps, keys and durable history build on it.
///
/// Migrations are versioned and run at open, so an older file is upgraded in place.
public final class SQLiteStore: Sendable {
    let database: DatabaseQueue

    /// Opens (creating when needed) the database at `path`; `:memory:` keeps nothing on disk.
    public init(path: String) throws {
        if path != ":memory:" {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        self.database =
            path == ":memory:" ? try DatabaseQueue(configuration: configuration) : try DatabaseQueue(path: path, configuration: configuration)
        if path != ":memory:" { try self.database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") } }
        try Self.migrator.migrate(self.database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-security-events") { db in
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
        return migrator
    }

    /// Writes `events` in one transaction and drops events beyond the newest `retain`.
    public func append(_ events: [SecurityEvent], retain: Int) throws {
        guard !events.isEmpty else { return }
        try self.database.write { db in
            for event in events {
                try db.execute(
                    sql: "INSERT INTO security_event (time, app, kind, client_ip, origin, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: [event.time, event.app, event.kind.name, event.clientIP, event.origin, event.userAgent, event.detail]
                )
            }
            try db.execute(
                sql: "DELETE FROM security_event WHERE id <= (SELECT MAX(id) FROM security_event) - ?",
                arguments: [retain]
            )
        }
    }

    /// Security events matching `query`, newest first.
    public func securityEvents(_ query: SecurityEventQuery) throws -> [SecurityEvent] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let app = query.app {
            clauses.append("app = ?")
            _ = arguments.append(contentsOf: [app])
        }
        if let kind = query.kind {
            clauses.append("kind = ?")
            _ = arguments.append(contentsOf: [kind.name])
        }
        if let since = query.since {
            clauses.append("time >= ?")
            _ = arguments.append(contentsOf: [since])
        }
        let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        _ = arguments.append(contentsOf: [query.limit])
        return try self.database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM security_event \(filter) ORDER BY id DESC LIMIT ?",
                arguments: arguments
            ).map { row in
                SecurityEvent(
                    time: row["time"],
                    app: row["app"],
                    kind: SecurityEvent.Kind(name: row["kind"]) ?? .badRequest,
                    clientIP: row["client_ip"],
                    origin: row["origin"],
                    userAgent: row["user_agent"],
                    detail: row["detail"]
                )
            }
        }
    }
}

import Foundation
import GRDB
public import SwitchboardCore

/// The store on SQLite (GRDB, WAL): security events, the control plane (`ControlPlaneStore`), durable history.
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

    /// Every schema change, in the order it runs. Add a migration by appending it here (never reorder or rename).
    static let migrations: [StoreMigration] = [
        .securityEvents,
        .controlPlane,
        .history,
        .liveSettings,
        .alerts,
        .usage,
        .historyPublicationInfo,
        .addressBlocks,
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in Self.migrations { migrator.registerMigration(migration.name, migrate: migration.migrate) }
        return migrator
    }

    /// The migrations this file has run, in order (for tests and diagnostics).
    public func appliedMigrations() throws -> [String] {
        let applied = try self.database.read { db in try Self.migrator.appliedIdentifiers(db) }
        return Self.migrations.map(\.name).filter { applied.contains($0) }
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

    /// Deletes security events older than `before` (ms) and all but the newest `maxRows`; returns how many went.
    @discardableResult
    public func pruneSecurityEvents(before: Int64, maxRows: Int) throws -> Int {
        try self.database.write { db in
            try db.execute(sql: "DELETE FROM security_event WHERE time < ?", arguments: [before])
            var deleted = db.changesCount
            try db.execute(
                sql: "DELETE FROM security_event WHERE id <= (SELECT MAX(id) FROM security_event) - ?",
                arguments: [maxRows]
            )
            deleted += db.changesCount
            return deleted
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

import Foundation
import GRDB

/// One alert rule as the store keeps it: plain fields, the secret opened (it is sealed on disk).
public struct StoredAlertRule: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var threshold: Int
    public var url: String
    public var secret: String
    public var event: String?
    public var app: String?
    public var windowSeconds: Int
    public var createdAt: Int64

    /// Creates a row's value.
    public init(
        name: String,
        kind: String,
        threshold: Int,
        url: String,
        secret: String,
        event: String?,
        app: String?,
        windowSeconds: Int,
        createdAt: Int64
    ) {
        self.name = name
        self.kind = kind
        self.threshold = threshold
        self.url = url
        self.secret = secret
        self.event = event
        self.app = app
        self.windowSeconds = windowSeconds
        self.createdAt = createdAt
    }
}

/// The alert rules made through the admin API, so they survive restarts; each webhook secret is sealed by a `SecretBox`
/// (its context is the rule's name, so a sealed secret copied to another row does not open).
public final class AlertRuleStore: Sendable {
    private let database: DatabaseQueue
    private let box: SecretBox

    /// The alert rules of `store`, sealed with `box`.
    public init(store: SQLiteStore, box: SecretBox) {
        self.database = store.database
        self.box = box
    }

    /// Every stored rule, oldest first.
    public func rules() throws -> [StoredAlertRule] {
        let rows = try self.database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM alert_rule ORDER BY created_at, name") }
        return try rows.map { row in
            let name: String = row["name"]
            return StoredAlertRule(
                name: name,
                kind: row["kind"],
                threshold: row["threshold"],
                url: row["url"],
                secret: try self.box.open(row["secret_sealed"], nonce: row["nonce"], context: "alert:" + name),
                event: row["event"],
                app: row["app"],
                windowSeconds: row["window_seconds"],
                createdAt: row["created_at"]
            )
        }
    }

    /// Inserts `rule`; false when a rule of that name is already stored.
    public func insert(_ rule: StoredAlertRule) throws -> Bool {
        let (sealed, nonce) = try self.box.seal(rule.secret, context: "alert:" + rule.name)
        return try self.database.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO alert_rule (name, kind, threshold, url, secret_sealed, nonce, event, app, window_seconds, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [rule.name, rule.kind, rule.threshold, rule.url, sealed, nonce, rule.event, rule.app, rule.windowSeconds, rule.createdAt]
            )
            return db.changesCount == 1
        }
    }

    /// Deletes the rule named `name`; false when there was none.
    public func delete(name: String) throws -> Bool {
        try self.database.write { db in
            try db.execute(sql: "DELETE FROM alert_rule WHERE name = ?", arguments: [name])
            return db.changesCount == 1
        }
    }
}

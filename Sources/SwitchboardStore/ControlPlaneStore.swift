import Foundation
import GRDB

/// Apps and their keys in the store: plain fields as columns, secrets sealed by a `SecretBox`.
///
/// Opening it checks the master key against a value sealed when the store was created, so a wrong key stops the
/// edge at start instead of producing secrets that silently fail to verify.
public final class ControlPlaneStore: Sendable {
    /// The master key does not open the secrets this store was created with.
    public struct WrongMasterKey: Error, CustomStringConvertible {
        public var description: String {
            "the master key does not open this store's secrets (it was created with another SWITCHBOARD_MASTER_KEY, "
                + "[store] master_key or master.key file)"
        }
    }

    /// What revoking a key did.
    public enum Revocation: Sendable, Equatable {
        case revoked(StoredKey)
        case notFound
        case alreadyRevoked
        /// Refused: the app would be left with no active key.
        case lastActiveKey
    }

    private let database: DatabaseQueue
    private let box: SecretBox
    private static let checkName = "master_key_check"
    private static let checkPlaintext = "switchboard master key check"

    /// Opens the control plane of `store`, sealing a check value on first use and verifying it afterwards.
    public init(store: SQLiteStore, box: SecretBox) throws {
        self.database = store.database
        self.box = box
        try self.database.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT value FROM store_meta WHERE name = ?", arguments: [Self.checkName]) {
                let value: Data = row["value"]
                guard value.count > 12,
                    let opened = try? box.open(value.dropFirst(12), nonce: value.prefix(12), context: Self.checkName),
                    opened == Self.checkPlaintext
                else { throw WrongMasterKey() }
            } else {
                let (sealed, nonce) = try box.seal(Self.checkPlaintext, context: Self.checkName)
                try db.execute(sql: "INSERT INTO store_meta (name, value) VALUES (?, ?)", arguments: [Self.checkName, nonce + sealed])
            }
        }
    }

    // MARK: Apps

    /// Every stored app, ordered by id.
    public func apps() throws -> [StoredApp] {
        try self.database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM app ORDER BY id").map(Self.app(from:)) }
    }

    /// The stored app with `id`.
    public func app(id: String) throws -> StoredApp? {
        try self.database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM app WHERE id = ?", arguments: [id]).map(Self.app(from:)) }
    }

    /// Inserts `app` with `secrets` as its keys (the first is the newest, so it signs); one transaction.
    @discardableResult
    public func insert(_ app: StoredApp, secrets: [String]) throws -> [StoredKey] {
        try self.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO app (id, key, name, plan, environment, region, enabled, origins, hosts, client_events, upstream,
                        max_connections, max_channels, max_message_bytes, publishes_per_minute, history_size, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: StatementArguments(Self.values(app) + [app.createdAt])
            )
            // Older keys get earlier timestamps, so "newest signs" keeps the configured order.
            return try secrets.enumerated().map { index, secret in
                try self.insertKey(db, app: app.id, secret: secret, now: app.createdAt - Int64(index))
            }
        }
    }

    /// Replaces the editable fields of the app with `app.id`; returns false when there is none.
    @discardableResult
    public func update(_ app: StoredApp) throws -> Bool {
        try self.database.write { db in
            try db.execute(
                sql: """
                    UPDATE app SET key = ?, name = ?, plan = ?, environment = ?, region = ?, enabled = ?, origins = ?, hosts = ?,
                        client_events = ?, upstream = ?, max_connections = ?, max_channels = ?, max_message_bytes = ?,
                        publishes_per_minute = ?, history_size = ? WHERE id = ?
                    """,
                arguments: StatementArguments(Array(Self.values(app).dropFirst()) + [app.id])
            )
            return db.changesCount > 0
        }
    }

    // MARK: Keys

    /// The app's keys, newest first, revoked ones included.
    public func keys(app: String) throws -> [StoredKey] {
        try self.database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM app_key WHERE app_id = ? ORDER BY created_at DESC, rowid DESC", arguments: [app])
                .map(Self.key(from:))
        }
    }

    /// The secrets of the app's active keys, newest first (the first signs, all verify).
    public func activeSecrets(app: String) throws -> [String] {
        let rows = try self.database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, secret_sealed, nonce FROM app_key WHERE app_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, rowid DESC",
                arguments: [app]
            )
        }
        return try rows.map { row in try self.box.open(row["secret_sealed"], nonce: row["nonce"], context: row["id"]) }
    }

    /// Adds `secret` as the app's newest key.
    public func addKey(app: String, secret: String, now: Int64) throws -> StoredKey {
        try self.database.write { db in try self.insertKey(db, app: app, secret: secret, now: now) }
    }

    /// Revokes key `id` of `app`, unless it is the app's last active key.
    public func revokeKey(app: String, id: String, now: Int64) throws -> Revocation {
        try self.database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM app_key WHERE app_id = ? AND id = ?", arguments: [app, id]) else {
                return .notFound
            }
            var key = Self.key(from: row)
            guard key.isActive else { return .alreadyRevoked }
            let active = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM app_key WHERE app_id = ? AND revoked_at IS NULL", arguments: [app]) ?? 0
            guard active > 1 else { return .lastActiveKey }
            try db.execute(sql: "UPDATE app_key SET revoked_at = ? WHERE id = ?", arguments: [now, id])
            key.revokedAt = now
            return .revoked(key)
        }
    }

    private func insertKey(_ db: Database, app: String, secret: String, now: Int64) throws -> StoredKey {
        let key = StoredKey(id: Self.newKeyID(), appID: app, preview: StoredKey.preview(of: secret), createdAt: now)
        let (sealed, nonce) = try self.box.seal(secret, context: key.id)
        try db.execute(
            sql: "INSERT INTO app_key (id, app_id, secret_sealed, nonce, preview, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [key.id, app, sealed, nonce, key.preview, now]
        )
        return key
    }

    /// `key_` and 16 random hex digits.
    static func newKeyID() -> String {
        "key_" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    // MARK: Rows

    /// Every column but `created_at`, in the order of the INSERT.
    private static func values(_ app: StoredApp) -> [(any DatabaseValueConvertible)?] {
        [
            app.id, app.key, app.name, app.plan, app.environment, app.region, app.enabled, encode(app.origins), encode(app.hosts),
            app.clientEvents, app.upstream, app.limits.maxConnections, app.limits.maxChannels, app.limits.maxMessageBytes,
            app.limits.publishesPerMinute, app.limits.historySize,
        ]
    }

    private static func app(from row: Row) -> StoredApp {
        StoredApp(
            id: row["id"],
            key: row["key"],
            name: row["name"],
            plan: row["plan"],
            environment: row["environment"],
            region: row["region"],
            enabled: row["enabled"],
            origins: decode(row["origins"]),
            hosts: decode(row["hosts"]),
            clientEvents: row["client_events"],
            upstream: row["upstream"],
            limits: LimitOverrides(
                maxConnections: row["max_connections"],
                maxChannels: row["max_channels"],
                maxMessageBytes: row["max_message_bytes"],
                publishesPerMinute: row["publishes_per_minute"],
                historySize: row["history_size"]
            ),
            createdAt: row["created_at"]
        )
    }

    private static func key(from row: Row) -> StoredKey {
        StoredKey(id: row["id"], appID: row["app_id"], preview: row["preview"], createdAt: row["created_at"], revokedAt: row["revoked_at"])
    }

    private static func encode(_ strings: [String]) -> String {
        (try? JSONEncoder().encode(strings)).flatMap { String(data: $0, encoding: .utf8) } ?? "[]"
    }

    private static func decode(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}

import GRDB

/// An address or range blocked through the admin API, as the store keeps it (times in Unix milliseconds).
public struct StoredAddressBlock: Sendable, Equatable {
    /// The range in CIDR form (`203.0.113.7/32`), which identifies the block.
    public var address: String
    /// Why it was blocked, as the operator wrote it.
    public var reason: String
    public var createdAt: Int64
    /// When the block lifts by itself; nil when it lasts until removed.
    public var expiresAt: Int64?

    public init(address: String, reason: String, createdAt: Int64, expiresAt: Int64?) {
        self.address = address
        self.reason = reason
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

extension SQLiteStore {
    /// Every stored block, expired ones included (`removeAddressBlocks(expiredBy:)` drops those).
    public func addressBlocks() throws -> [StoredAddressBlock] {
        try self.database.read { db in
            try Row.fetchAll(db, sql: "SELECT address, reason, created_at, expires_at FROM address_blocks ORDER BY created_at, address").map {
                StoredAddressBlock(address: $0["address"], reason: $0["reason"], createdAt: $0["created_at"], expiresAt: $0["expires_at"])
            }
        }
    }

    /// Stores `block`, replacing the block of the same address.
    public func saveAddressBlock(_ block: StoredAddressBlock) throws {
        try self.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO address_blocks (address, reason, created_at, expires_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(address) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at,
                        expires_at = excluded.expires_at
                    """,
                arguments: [block.address, block.reason, block.createdAt, block.expiresAt]
            )
        }
    }

    /// Removes the block of `address`; returns whether there was one.
    @discardableResult
    public func removeAddressBlock(_ address: String) throws -> Bool {
        try self.database.write { db in
            try db.execute(sql: "DELETE FROM address_blocks WHERE address = ?", arguments: [address])
            return db.changesCount > 0
        }
    }

    /// Removes the blocks whose expiry is at or before `now`.
    public func removeAddressBlocks(expiredBy now: Int64) throws {
        try self.database.write { db in
            try db.execute(sql: "DELETE FROM address_blocks WHERE expires_at IS NOT NULL AND expires_at <= ?", arguments: [now])
        }
    }
}

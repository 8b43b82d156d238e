import GRDB

/// One versioned schema change of the store.
///
/// `SQLiteStore.migrations` lists every migration in the order it runs; a feature that needs tables adds its
/// own `StoreMigration+feature.swift` and appends one line there, so migrations never depend on file order.
struct StoreMigration: Sendable {
    /// The identifier GRDB records once the migration ran; never rename a released one.
    let name: String
    /// Creates or alters the tables.
    let migrate: @Sendable (Database) throws -> Void
}

import GRDB
public import SwitchboardCore

/// Usage per app and day in `usage_daily`, for one node (with Redis, `RedisUsageLedger` sums the nodes instead).
extension SQLiteStore: UsageLedger {
    public func add(_ batch: UsageBatch) async throws {
        guard !batch.isEmpty else { return }
        try await self.database.write { db in
            for (app, days) in batch.apps {
                for (day, counts) in days {
                    for field in counts.fields where field.value != 0 {
                        try db.execute(
                            sql: """
                                INSERT INTO usage_daily (app, day, metric, value) VALUES (?, ?, ?, ?)
                                ON CONFLICT (app, day, metric) DO UPDATE SET value = value + excluded.value
                                """,
                            arguments: [app, day.number, field.name, field.value]
                        )
                    }
                    for field in counts.peakFields {
                        try db.execute(
                            sql: """
                                INSERT INTO usage_daily (app, day, metric, value) VALUES (?, ?, ?, ?)
                                ON CONFLICT (app, day, metric) DO UPDATE SET value = MAX(value, excluded.value)
                                """,
                            arguments: [app, day.number, field.name, field.value]
                        )
                    }
                }
            }
        }
    }

    public func days(app: String, from: UsageDay, to: UsageDay) async throws -> [UsageDay: UsageCounts] {
        try await self.database.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT day, metric, value FROM usage_daily WHERE app = ? AND day BETWEEN ? AND ?",
                arguments: [app, from.number, to.number]
            )
            var result: [UsageDay: UsageCounts] = [:]
            for row in rows {
                let day = UsageDay(number: row["day"])
                result[day, default: UsageCounts()].add(field: row["metric"], value: row["value"])
            }
            return result
        }
    }

    public func messagesIn(from: UsageDay, to: UsageDay) async throws -> [String: Int] {
        try await self.database.read { db in try Self.messagesIn(db, from: from, to: to) }
    }

    /// `messagesIn(from:to:)` without waiting for a task: the edge loads month totals with it before it serves.
    public func storedMessagesIn(from: UsageDay, to: UsageDay) throws -> [String: Int] {
        try self.database.read { db in try Self.messagesIn(db, from: from, to: to) }
    }

    static func messagesIn(_ db: Database, from: UsageDay, to: UsageDay) throws -> [String: Int] {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT app, SUM(value) AS total FROM usage_daily WHERE day BETWEEN ? AND ? AND metric LIKE 'in.%' GROUP BY app",
            arguments: [from.number, to.number]
        )
        var result: [String: Int] = [:]
        for row in rows { result[row["app"]] = row["total"] }
        return result
    }
}

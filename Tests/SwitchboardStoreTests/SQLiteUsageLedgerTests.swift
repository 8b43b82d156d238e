import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardStore

@Suite struct SQLiteUsageLedgerTests {
    @Test func usageAddsUpAcrossFlushesAndSurvivesReopeningTheFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("usage-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try #require(UsageDay(parsing: "2026-12-01"))
        let second = try #require(UsageDay(parsing: "2026-12-02"))
        let lastOfNovember = try #require(UsageDay(parsing: "2026-11-30"))
        do {
            let store = try SQLiteStore(path: path)
            try await store.add(
                UsageBatch(apps: [
                    "a": [
                        first: UsageCounts(messagesIn: ["rest": 2, "pusher": 1], deliveries: 6, peakConnections: 3),
                        lastOfNovember: UsageCounts(messagesIn: ["rest": 100]),
                    ],
                    "b": [second: UsageCounts(messagesIn: ["jwt": 4])],
                ])
            )
            try await store.add(UsageBatch(apps: ["a": [first: UsageCounts(messagesIn: ["rest": 1], deliveries: 1, peakConnections: 2)]]))
        }
        let reopened = try SQLiteStore(path: path)
        let days = try await reopened.days(app: "a", from: first, to: second)
        #expect(days == [first: UsageCounts(messagesIn: ["rest": 3, "pusher": 1], deliveries: 7, peakConnections: 3)])
        #expect(try await reopened.messagesIn(from: first, to: second) == ["a": 4, "b": 4])
        #expect(try reopened.appliedMigrations().contains("v6_usage_daily"))
    }
}

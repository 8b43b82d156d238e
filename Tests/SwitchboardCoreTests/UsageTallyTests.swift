import NIOCore
import Testing

@testable import SwitchboardCore

@Suite struct UsageTallyTests {
    /// 2026-12-31T23:59:59.000Z and one second later.
    static let lastSecondOfDecember: Int64 = 1_798_761_599_000
    static let newYear: Int64 = 1_798_761_600_000

    @Test func daysParseFormatAndKnowTheirMonth() throws {
        let day = try #require(UsageDay(parsing: "2026-12-04"))
        #expect(day.description == "2026-12-04")
        #expect(day == UsageDay(milliseconds: 1_796_342_400_000))
        #expect(day.firstOfMonth.description == "2026-12-01")
        #expect(UsageDay(milliseconds: Self.lastSecondOfDecember).month + 1 == UsageDay(milliseconds: Self.newYear).month)
        #expect(UsageDay(parsing: "2024-02-29")?.description == "2024-02-29")
        for bad in ["2026-02-30", "2026-13-01", "2026-1-01", "20261204", "2026-12-04T00", "1969-12-31", "２026-12-04", ""] {
            #expect(UsageDay(parsing: bad) == nil, "\(bad)")
        }
        for number in stride(from: 0, to: 40_000, by: 37) {
            let day = UsageDay(number: number)
            #expect(UsageDay(parsing: day.description) == day)
        }
    }

    @Test func theQuotaRefusesOnceTheMonthIsUsedUpAndCountsPendingMessages() {
        let tally = UsageTally()
        let now = Self.lastSecondOfDecember
        for _ in 0..<3 {
            #expect(tally.admit(app: "a", limit: 3, now: now))
            tally.countPublished(app: "a", via: "rest", now: now)
        }
        #expect(!tally.admit(app: "a", limit: 3, now: now))
        #expect(tally.admit(app: "a", limit: nil, now: now))
        #expect(tally.admit(app: "b", limit: 3, now: now))
        #expect(!tally.admit(app: "b", limit: 0, now: now))
    }

    /// A call publishing to several channels spends a message per channel, so it fits in what is left whole or not at
    /// all: two channels with one message left are refused, one channel still fits.
    @Test func aCallToSeveralChannelsFitsTheQuotaWholeOrIsRefused() {
        let tally = UsageTally()
        let now = Self.lastSecondOfDecember
        #expect(!tally.admit(app: "a", limit: 3, messages: 4, now: now))
        for _ in 0..<2 { tally.countPublished(app: "a", via: "pusher", now: now) }
        #expect(!tally.admit(app: "a", limit: 3, messages: 2, now: now))
        #expect(tally.admit(app: "a", limit: 3, messages: 1, now: now))
    }

    @Test func aNewMonthStartsFromZero() {
        let tally = UsageTally()
        for _ in 0..<3 { tally.countPublished(app: "a", via: "pusher", now: Self.lastSecondOfDecember) }
        let taken = tally.take()
        tally.refreshed(taken, totals: ["a": 3], now: Self.lastSecondOfDecember)
        #expect(!tally.admit(app: "a", limit: 3, now: Self.lastSecondOfDecember))
        #expect(tally.admit(app: "a", limit: 3, now: Self.newYear))
        #expect(tally.monthToDate(app: "a", now: Self.newYear) == 0)
    }

    @Test func aFlushMovesCountsToTheLedgerWithoutCountingThemTwice() {
        let tally = UsageTally()
        let now = Self.lastSecondOfDecember
        tally.countPublished(app: "a", via: "rest", now: now)
        tally.countPublished(app: "a", via: "jwt", now: now)
        tally.countDelivered(app: "a", count: 5, now: now)
        tally.noteConnections(app: "a", connections: 4, now: now)
        tally.noteConnections(app: "a", connections: 2, now: now)
        let taken = tally.take()
        let day = UsageDay(milliseconds: now)
        #expect(taken.batch.apps["a"]?[day] == UsageCounts(messagesIn: ["rest": 1, "jwt": 1], deliveries: 5, peakConnections: 4))
        // Counted while the batch is being written: still part of the month.
        tally.countPublished(app: "a", via: "rest", now: now)
        #expect(tally.monthToDate(app: "a", now: now) == 3)
        // The ledger now holds the batch plus 10 from another node.
        tally.refreshed(taken, totals: ["a": 12], now: now)
        #expect(tally.monthToDate(app: "a", now: now) == 13)
        #expect(tally.pending(app: "a")[day]?.messagesIn == ["rest": 1])
    }

    @Test func aFailedWriteIsRetriedAtTheNextFlush() {
        let tally = UsageTally()
        let now = Self.lastSecondOfDecember
        tally.countPublished(app: "a", via: "rest", now: now)
        let failed = tally.take()
        tally.restore(failed)
        tally.countPublished(app: "a", via: "rest", now: now)
        let retried = tally.take()
        #expect(retried.batch.apps["a"]?[UsageDay(milliseconds: now)]?.messagesIn == ["rest": 2])
        #expect(tally.monthToDate(app: "a", now: now) == 2)
    }

    @Test func theBusRefusesPublishesPastTheMonthlyLimitAndCountsThemByProtocol() async throws {
        var plan = Plan.free
        plan.monthlyMessages = 2
        let app = App(id: "q", key: "k", secrets: ["s"], plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let message = Publication(app: "q", channel: "c", data: ByteBuffer(string: "1"), timestamp: WallClock.milliseconds())
        _ = try await bus.publish(message, app: app)
        _ = try await bus.publish(message, app: app, options: .via("pusher"))
        await #expect(throws: BusError.monthlyQuota(limit: 2)) { try await bus.publish(message, app: app) }
        #expect(BusError.monthlyQuota(limit: 2).securityKind == .overQuota)
        let pending = bus.usage.pending(app: "q").values.first
        #expect(pending?.messagesIn == ["rest": 1, "pusher": 1])
    }

    @Test func deliveriesAndPeakConnectionsAreCountedByProtocolAsWellAsPerApp() {
        let tally = UsageTally()
        let now = Self.lastSecondOfDecember
        tally.countDelivered(app: "a", byProtocol: ["pusher": 2, "sse": 1, "jwt": 0], now: now)
        tally.countDelivered(app: "a", byProtocol: ["pusher": 1], now: now)
        tally.countDelivered(app: "a", byProtocol: [:], now: now)
        tally.noteConnections(app: "a", connections: 3, via: "pusher", protocolConnections: 3, now: now)
        tally.noteConnections(app: "a", connections: 2, via: "sse", protocolConnections: 1, now: now)
        tally.noteConnections(app: "a", connections: 1, via: "pusher", protocolConnections: 1, now: now)
        let counts = tally.take().batch.apps["a"]?[UsageDay(milliseconds: now)]
        #expect(
            counts
                == UsageCounts(
                    deliveries: 4,
                    peakConnections: 3,
                    deliveriesByProtocol: ["pusher": 3, "sse": 1],
                    peakConnectionsByProtocol: ["pusher": 3, "sse": 1]
                )
        )
        // The stored fields read back to the same counts; a second node's peaks keep the larger, deliveries add.
        var stored = UsageCounts()
        for field in (counts?.fields ?? []) + (counts?.peakFields ?? []) { stored.add(field: field.name, value: field.value) }
        #expect(stored == counts)
        #expect(counts?.fields.map(\.name) == ["out", "out.pusher", "out.sse"])
        #expect(counts?.peakFields.map(\.name) == ["peak_connections", "peak.pusher", "peak.sse"])
        let otherNode = UsageCounts(deliveries: 1, deliveriesByProtocol: ["sse": 1], peakConnectionsByProtocol: ["sse": 4, "pusher": 1])
        stored.merge(otherNode)
        #expect(stored.deliveriesByProtocol == ["pusher": 3, "sse": 2] && stored.peakConnectionsByProtocol == ["pusher": 3, "sse": 4])
    }

    @Test func theBusCountsDeliveriesAndEachProtocolsOpenConnections() throws {
        let app = App(id: "1", key: "k", secrets: ["s"], plan: .enterprise)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        _ = try bus.connect(app: app, via: "text")
        _ = try bus.connect(app: app, via: "text")
        bus.disconnect(app: "1", via: "text")
        _ = try bus.connect(app: app, via: "other")
        _ = try bus.connect(app: app, via: "text")
        bus.hub.add(TestSubscriber(1), app: "1", channel: "room")
        bus.hub.add(TestSubscriber(2), app: "1", channel: "room")
        bus.hub.add(TestSubscriber(3, encoder: OtherEncoder()), app: "1", channel: "room")
        #expect(bus.hub.broadcastByProtocol(.publication(publication("room", sender: 1))) == ["text": 1, "other": 1])
        bus.handle(.publication(publication("room", sender: 3)))
        let counts = bus.usage.pending(app: "1").values.first
        #expect(counts?.deliveries == 2 && counts?.deliveriesByProtocol == ["text": 2])
        #expect(counts?.peakConnections == 3 && counts?.peakConnectionsByProtocol == ["text": 2, "other": 1])
    }
}

import Synchronization
import Testing

@testable import SwitchboardCore

@Suite struct LiveLimitsTests {
    static func values(commands: Double = 1000, burst: Double = 1000, refusals: Double = 20) -> LiveLimits.Values {
        var client = ClientLimits()
        client.commandsPerSecond = commands
        client.commandBurst = burst
        client.maxRefusals = refusals
        return LiveLimits.Values(client: client)
    }

    /// How many of `count` takes of `spend` at `now` the budget allowed.
    static func allowed(_ budget: inout ClientBudget, _ spend: ClientBudget.Spend = .command, count: Int, now: Double) -> Int {
        (0..<count).filter { _ in budget.take(spend, now: now) }.count
    }

    @Test func aLoweredCommandRateAppliesToABudgetAlreadyInUse() {
        let live = LiveLimits(Self.values())
        var budget = ClientBudget(live, now: 0)
        #expect(Self.allowed(&budget, count: 50, now: 0) == 50)
        #expect(live.replace(Self.values(commands: 2, burst: 2)))
        // The bucket shrinks to the new burst at once: two more, then refused until it refills at the new rate.
        #expect(Self.allowed(&budget, count: 10, now: 0) == 2)
        #expect(Self.allowed(&budget, count: 10, now: 0.5) == 1)
    }

    @Test func aReaderSeesEachReloadAndOtherwiseKeepsItsValue() {
        var values = Self.values()
        values.maxHistoryMegabytes = 256
        let live = LiveLimits(values)
        let budget = live.reader { $0.maxHistoryMegabytes }
        #expect(budget() == 256)
        values.maxHistoryMegabytes = 8
        #expect(live.replace(values))
        #expect(budget() == 8)
        #expect(budget() == 8)
        values.maxHistoryMegabytes = 64
        live.replace(values)
        #expect(budget() == 64)
    }

    @Test func aLoweredMaxRefusalsClosesAnOpenConnectionSooner() {
        let live = LiveLimits(Self.values(refusals: 20))
        var budget = ClientBudget(live, now: 0)
        #expect(Self.allowed(&budget, .refusal, count: 1, now: 0) == 1)
        live.replace(Self.values(refusals: 1))
        #expect(Self.allowed(&budget, .refusal, count: 5, now: 0) == 1)
    }

    @Test func aRaisedLimitKeepsTheTokensLeftAndRefillsAtTheNewRate() {
        let live = LiveLimits(Self.values(commands: 1, burst: 1))
        var budget = ClientBudget(live, now: 0)
        #expect(Self.allowed(&budget, count: 2, now: 0) == 1)
        live.replace(Self.values(commands: 100, burst: 100))
        #expect(Self.allowed(&budget, count: 1, now: 0) == 0)  // no tokens are given away by the reload itself
        #expect(Self.allowed(&budget, count: 20, now: 0.1) == 10)
    }

    @Test func aBudgetWithFixedLimitsAndAnUnchangedReplaceIgnoreReloads() {
        let live = LiveLimits(Self.values(commands: 1, burst: 1))
        var fixed = ClientBudget(ClientLimits(), now: 0)
        #expect(!live.replace(Self.values(commands: 1, burst: 1)))
        #expect(live.generation == 0)
        live.replace(Self.values(commands: 1, burst: 1, refusals: 3))
        #expect(live.generation == 1)
        #expect(Self.allowed(&fixed, count: 100, now: 0) == 100)
    }

    @Test func theSecuritySinkFollowsTheReloadedPerAddressRate() {
        final class Count: SecurityEventSink {
            let kept = Mutex(0)
            func record(_ event: SecurityEvent) { self.kept.withLock { $0 += 1 } }
        }
        let live = LiveLimits(LiveLimits.Values(securityEventsPerIPPerSecond: 2))
        let count = Count()
        let sink = BudgetedSecuritySink(live: live, downstream: count, now: { 0 })
        func flood() {
            for n in 0..<100 { sink.record(SecurityEvent(time: Int64(n), app: nil, kind: .badRequest, clientIP: "192.0.2.9", detail: "x")) }
        }
        flood()
        #expect(count.kept.withLock { $0 } == 5)  // a burst of 2.5 times the rate
        live.replace(LiveLimits.Values(securityEventsPerIPPerSecond: 20))
        flood()
        #expect(count.kept.withLock { $0 } == 5 + 50)
        #expect(sink.limits.perAddressPerSecond == 20)
    }
}

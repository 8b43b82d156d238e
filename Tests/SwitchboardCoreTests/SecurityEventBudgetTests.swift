import Synchronization
import Testing

@testable import SwitchboardCore

@Suite struct SecurityEventBudgetTests {
    @Test func defaultsAreTwentyPerSecondWithBurstsOfFifty() {
        let limits = SecurityEventBudget.Limits()
        #expect(limits.perAddressPerSecond == 20)
        #expect(limits.perAddressBurst == 50)
        #expect(limits.perConnectionPerSecond == 5)
        #expect(limits.perConnectionBurst == 10)
        #expect(limits.totalPerSecond == 1000)
    }

    @Test func anAddressGetsItsBurstThenItsRateAndTheRestIsCounted() {
        var budget = SecurityEventBudget(.init(perAddressPerSecond: 20), now: 0)
        let kept = (0..<2000).filter { _ in budget.admit(address: "10.0.0.1", now: 0) }.count
        #expect(kept == 50)
        #expect(budget.dropped == 1950)
        // One second later, twenty more.
        let later = (0..<100).filter { _ in budget.admit(address: "10.0.0.1", now: 1) }.count
        #expect(later == 20)
        #expect(budget.dropped == 1950 + 80)
        // Another address has its own bucket.
        let other = budget.admit(address: "10.0.0.2", now: 1)
        #expect(other)
    }

    @Test func aConnectionGetsItsOwnSmallerShare() {
        var budget = SecurityEventBudget(.init(perAddressPerSecond: 20), now: 0)
        let first = ConnectionID(1)
        let keptFirst = (0..<100).filter { _ in budget.admit(address: "10.0.0.1", connection: first, now: 0) }.count
        #expect(keptFirst == 10)
        // A second connection from the same address still has room in the address's budget.
        let keptSecond = (0..<100).filter { _ in budget.admit(address: "10.0.0.1", connection: ConnectionID(2), now: 0) }.count
        #expect(keptSecond == 10)
    }

    @Test func eventsWithoutAnAddressShareOneBucket() {
        var budget = SecurityEventBudget(.init(perAddressPerSecond: 4), now: 0)
        #expect((0..<50).filter { _ in budget.admit(address: nil, now: 0) }.count == 10)
    }

    @Test func manyAddressesAreBoundedByTheEdgeWideBucketAndTheTable() {
        var budget = SecurityEventBudget(.init(perAddressPerSecond: 20, maxTracked: 1000), now: 0)
        var kept = 0
        for n in 0..<100_000 where budget.admit(address: "fd00::\(n)", now: 0) { kept += 1 }
        #expect(kept == 2500)
        #expect(budget.dropped == 100_000 - 2500)
        #expect(budget.tracked <= 1000)
    }

    @Test func zeroKeepsEveryEvent() {
        var budget = SecurityEventBudget(.init(perAddressPerSecond: 0), now: 0)
        var kept = 0
        for _ in 0..<10_000 where budget.admit(address: "10.0.0.1", now: 0) { kept += 1 }
        #expect(kept == 10_000)
        #expect(budget.dropped == 0)
    }

    @Test func theSinkForwardsWhatTheBudgetAllowsAndCountsTheRest() {
        let log = MemorySecurityLog(capacity: 10_000)
        let drops = Mutex(0)
        let clock = Mutex(0.0)
        let sink = BudgetedSecuritySink(
            limits: .init(perAddressPerSecond: 20),
            downstream: log,
            now: { clock.withLock { $0 } },
            onDrop: { _ in drops.withLock { $0 += 1 } }
        )
        for n in 0..<2000 {
            sink.record(SecurityEvent(time: Int64(n), app: "a", kind: .badRequest, clientIP: "127.0.0.1", detail: "frame \(n)"))
        }
        #expect(log.count == 50)
        #expect(sink.dropped == 1950)
        #expect(drops.withLock { $0 } == 1950)
        clock.withLock { $0 = 0.5 }
        sink.record(SecurityEvent(time: 0, app: "a", kind: .badRequest, clientIP: "127.0.0.1", detail: "later"))
        #expect(log.events(.init(limit: 1)).first?.detail == "later")
    }
}

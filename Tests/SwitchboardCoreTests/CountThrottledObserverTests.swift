import Synchronization
import Testing

@testable import SwitchboardCore

@Suite struct CountThrottledObserverTests {
    final class Heard: ChannelObserver {
        let counts = Mutex<[(count: Int, cause: ConnectionID?)]>([])
        let vacated = Mutex<[String]>([])

        func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {
            self.counts.withLock { $0.append((count, cause)) }
        }

        func channelVacated(app: String, channel: String) { self.vacated.withLock { $0.append(channel) } }
    }

    @Test func aBurstOfChangesIsToldOnceAtOnceAndOnceMoreWithTheCountAtTheEndOfTheInterval() async throws {
        let heard = Heard()
        let live = Atomic<Int>(0)
        let throttled = CountThrottledObserver(heard, interval: .milliseconds(200)) { _, _ in live.load(ordering: .relaxed) }
        for count in 1...500 {
            live.store(count, ordering: .relaxed)
            throttled.subscriptionCountChanged(app: "1", channel: "crowd", count: count, cause: ConnectionID(UInt64(count)))
        }
        // The first change at once, with its cause; the other 499 held.
        #expect(heard.counts.withLock { $0.map(\.count) } == [1])
        #expect(heard.counts.withLock { $0.first?.cause } == ConnectionID(1))
        for _ in 0..<100 where heard.counts.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(heard.counts.withLock { $0.map(\.count) } == [1, 500])
        #expect(heard.counts.withLock { $0.last?.cause } == nil)
        // Another channel is not held by this one's interval; a quiet interval later a change is told at once again.
        throttled.subscriptionCountChanged(app: "1", channel: "other", count: 7, cause: nil)
        #expect(heard.counts.withLock { $0.map(\.count) } == [1, 500, 7])
        try await Task.sleep(for: .milliseconds(250))
        throttled.subscriptionCountChanged(app: "1", channel: "crowd", count: 3, cause: nil)
        #expect(heard.counts.withLock { $0.map(\.count) } == [1, 500, 7, 3])
        throttled.channelVacated(app: "1", channel: "crowd")
        #expect(heard.vacated.withLock { $0 } == ["crowd"])
    }

    @Test func aHeldChangeOfAChannelThatEmptiedMeanwhileIsNotTold() async throws {
        let heard = Heard()
        let throttled = CountThrottledObserver(heard, interval: .milliseconds(100)) { _, _ in 0 }
        throttled.subscriptionCountChanged(app: "1", channel: "brief", count: 1, cause: nil)
        throttled.subscriptionCountChanged(app: "1", channel: "brief", count: 2, cause: nil)
        try await Task.sleep(for: .milliseconds(400))
        #expect(heard.counts.withLock { $0.map(\.count) } == [1])
    }
}

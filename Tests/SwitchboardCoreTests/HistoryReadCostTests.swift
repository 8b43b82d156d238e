import NIOCore
import Testing

@testable import SwitchboardCore

/// Every subscribe reads history (JSON-action and SSE for the position, JWT for the epoch), and a plan may keep 100,000
/// messages per channel: a read costs what it returns, not what the channel keeps. Scanning everything kept took
/// minutes for the reads below; the bounds are a hundred times what they take in a debug build.
@Suite struct HistoryReadCostTests {
    let kept = 100_000
    let policy = HistoryPolicy(size: 100_000, ttlMilliseconds: 86_400_000)
    let clock = ContinuousClock()

    func publication(_ n: Int, at time: Int64 = 1) -> Publication {
        Publication(app: "1", channel: "long", data: ByteBuffer(string: "\(n)"), timestamp: time)
    }

    @Test func readingTheNewestMessagesOfALongHistoryDoesNotScanIt() {
        var history = ChannelHistory(epoch: "e")
        for n in 1...self.kept { _ = history.append(self.publication(n), policy: self.policy, now: 1) }
        var pages: [HistoryPage] = []
        let elapsed = self.clock.measure {
            for _ in 0..<5_000 { pages.append(history.messages(after: UInt64(self.kept - 2))) }
        }
        #expect(pages.allSatisfy { $0.publications.map { String(buffer: $0.data) } == ["\(self.kept - 1)", "\(self.kept)"] })
        #expect(history.messages(after: 10, limit: 3).publications.map { $0.position?.offset } == [11, 12, 13])
        #expect(history.messages(after: 10, limit: 0).publications.isEmpty)
        #expect(history.messages(after: UInt64(self.kept)).publications.isEmpty)
        #expect(elapsed < .seconds(15), "5,000 reads took \(elapsed)")
    }

    @Test func aSubscribeThatReplaysNothingReadsNothingFromALongHistory() {
        let engine = MemoryEngine()
        // Stamped now: reads trim by age on the wall clock.
        let now = WallClock.milliseconds()
        for n in 1...self.kept { _ = engine.publish(self.publication(n, at: now), history: self.policy) }
        let elapsed = self.clock.measure {
            for _ in 0..<2_000 {
                // What a JSON-action or SSE subscribe asks (the position), and a JWT subscribe without recovery.
                let position = engine.history(app: "1", channel: "long", after: nil, limit: 0, policy: self.policy)
                #expect(position.publications.isEmpty && position.latest?.offset == UInt64(self.kept))
                let started = engine.historyStartingStream(app: "1", channel: "long", after: 0, limit: 0, policy: self.policy)
                #expect(started.publications.isEmpty && started.latest?.offset == UInt64(self.kept))
            }
        }
        #expect(engine.history(app: "1", channel: "long", after: nil, limit: 2, policy: self.policy).publications.count == 2)
        #expect(elapsed < .seconds(15), "2,000 subscribes took \(elapsed)")
    }
}

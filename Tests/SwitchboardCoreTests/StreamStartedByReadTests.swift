import Synchronization
import Testing

@testable import SwitchboardCore

/// A positioned subscribe starts a missing stream, so the epoch it hands out can tell a later run of the stream apart.
@Suite struct StreamStartedByReadTests {
    let policy = HistoryPolicy(size: 10, ttlMilliseconds: 60_000)

    /// Names epochs `e1`, `e2`, … so tests can tell runs apart without chance.
    static func countingEpochs() -> @Sendable () -> String {
        let next = Atomic<Int>(0)
        return { "e\(next.wrappingAdd(1, ordering: .relaxed).newValue)" }
    }

    @Test func aPositionedReadOfAMissingStreamGivesAnEpochAtOffsetZero() {
        let engine = MemoryEngine(makeEpoch: Self.countingEpochs())
        let page = engine.historyStartingStream(app: "1", channel: "room", after: 0, policy: self.policy)
        #expect(page.latest == StreamPosition(offset: 0, epoch: "e1"))
        #expect(page.publications.isEmpty && !page.truncated)
        // A second read finds the stream the first one started.
        #expect(engine.historyStartingStream(app: "1", channel: "room", after: 0, policy: self.policy).latest?.epoch == "e1")
        #expect(engine.history(app: "1", channel: "room", after: 0, limit: nil, policy: self.policy).latest?.epoch == "e1")
    }

    @Test func aPublishAfterTheReadContinuesItsEpochAtOffsetOne() {
        let engine = MemoryEngine(makeEpoch: Self.countingEpochs())
        let started = engine.historyStartingStream(app: "1", channel: "room", after: 0, policy: self.policy).latest
        let published = engine.publish(publication("room"), history: self.policy)
        #expect(published.position == StreamPosition(offset: 1, epoch: started?.epoch ?? "-"))
    }

    @Test func afterHistoryIsRemovedTheNextPublishContinuesTheStartedEpoch() {
        let engine = MemoryEngine(makeEpoch: Self.countingEpochs())
        let started = engine.historyStartingStream(app: "1", channel: "room", after: 0, policy: self.policy).latest
        engine.removeHistory(app: "1", channel: "room")
        let published = engine.publish(publication("room"), history: self.policy)
        #expect(published.position == StreamPosition(offset: 1, epoch: started?.epoch ?? "-"))
    }

    @Test func pastTheCapTheOldestMessagelessStreamIsForgotten() {
        let engine = MemoryEngine(makeEpoch: Self.countingEpochs(), maxMessagelessStreams: 2)
        for channel in ["a", "b"] { _ = engine.historyStartingStream(app: "1", channel: channel, after: 0, policy: self.policy) }
        // "b" got a message, so it no longer waits as message-less; "c" pushes "a" out.
        _ = engine.publish(publication("b"), history: self.policy)
        _ = engine.historyStartingStream(app: "1", channel: "c", after: 0, policy: self.policy)
        #expect(engine.history(app: "1", channel: "a", after: 0, limit: nil, policy: self.policy).latest == nil)
        #expect(engine.history(app: "1", channel: "b", after: 0, limit: nil, policy: self.policy).latest == StreamPosition(offset: 1, epoch: "e2"))
        #expect(engine.history(app: "1", channel: "c", after: 0, limit: nil, policy: self.policy).latest == StreamPosition(offset: 0, epoch: "e3"))
        // The forgotten stream starts again under a new epoch: its old one recovers nothing.
        #expect(engine.historyStartingStream(app: "1", channel: "a", after: 0, policy: self.policy).latest?.epoch == "e4")
    }

    @Test func oneAppsStartedStreamsNeverPushOutAnothers() {
        let engine = MemoryEngine(makeEpoch: Self.countingEpochs(), maxMessagelessStreams: 2)
        _ = engine.historyStartingStream(app: "1", channel: "kept", after: 0, policy: self.policy)
        for channel in ["a", "b", "c"] { _ = engine.historyStartingStream(app: "2", channel: channel, after: 0, policy: self.policy) }
        #expect(engine.history(app: "1", channel: "kept", after: 0, limit: nil, policy: self.policy).latest == StreamPosition(offset: 0, epoch: "e1"))
        #expect(engine.history(app: "2", channel: "a", after: 0, limit: nil, policy: self.policy).latest == nil)
    }

    @Test func aMessagelessStreamIdleForTwiceItsTTLIsSweptAndNeverJournaled() {
        let journal = RecordingJournal()
        let engine = MemoryEngine(journal: journal)
        let now = WallClock.milliseconds()
        _ = engine.historyStartingStream(app: "1", channel: "room", after: 0, policy: self.policy)
        engine.sweep(now: now + self.policy.ttlMilliseconds)
        #expect(engine.history(app: "1", channel: "room", after: 0, limit: nil, policy: self.policy).latest != nil)
        engine.sweep(now: now + 3 * self.policy.ttlMilliseconds)
        #expect(engine.history(app: "1", channel: "room", after: 0, limit: nil, policy: self.policy).latest == nil)
        #expect(journal.changes.isEmpty)
    }
}

/// Records what the engine hands its journal.
final class RecordingJournal: HistoryJournal {
    private let recorded = Mutex<[String]>([])

    var changes: [String] { self.recorded.withLock { $0 } }

    func kept(_ publication: Publication, policy: HistoryPolicy) {
        self.recorded.withLock { $0.append("kept \(publication.channel) \(publication.position?.offset ?? 0)") }
    }

    func dropped(app: String, channel: String) { self.recorded.withLock { $0.append("dropped \(channel)") } }

    func evicted(app: String, channel: String, through position: StreamPosition) {
        self.recorded.withLock { $0.append("evicted \(channel) \(position.offset)") }
    }
}

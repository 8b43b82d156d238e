import NIOCore
import Synchronization
import Testing

@testable import SwitchboardCore

/// The memory engine's kept messages, all channels together, stay within `max_history_mb`.
@Suite struct HistoryBudgetTests {
    static let policy = HistoryPolicy(size: 1_000, ttlMilliseconds: 3_600_000)

    static func message(_ channel: String, bytes: Int, app: String = "1") -> Publication {
        Publication(app: app, channel: channel, data: ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes), timestamp: WallClock.milliseconds())
    }

    @Test func aStreamCountsWhatItKeepsAndLetsGoOfItsOldestToFitABudget() {
        var history = ChannelHistory(epoch: "e")
        for _ in 1...4 { _ = history.append(Self.message("c", bytes: 1_000), policy: Self.policy, now: 1) }
        let each = ChannelHistory.cost(of: Self.message("c", bytes: 1_000))
        #expect(each > 1_000 && history.bytes == 4 * each)

        let last = history.dropOldest(keepingAtMost: 2 * each + 10)
        #expect(last == StreamPosition(offset: 2, epoch: "e"))
        #expect(history.bytes == 2 * each)
        let page = history.messages(after: 1)
        #expect(page.publications.map { $0.position?.offset } == [3, 4])
        #expect(page.truncated)
        #expect(history.dropOldest(keepingAtMost: 10_000_000) == nil)

        history.trim(policy: HistoryPolicy(size: 1, ttlMilliseconds: 3_600_000), now: 1)
        #expect(history.bytes == each)
        history.removeAll()
        #expect(history.bytes == 0)
    }

    @Test func theLevelCutsTheLargestStreamsFirstAndSmallOnesOnlyWhenTheyMust() {
        #expect(MemoryEngine.level([100, 10, 10], freeing: 0) == Int.max)
        // Cutting the 100 to 60 frees 40; the small ones stay whole.
        #expect(MemoryEngine.level([100, 10, 10], freeing: 40) == 60)
        #expect(MemoryEngine.level([10, 100, 80], freeing: 40) == 70)
        // Freeing more than the large ones hold beyond the small ones reaches them too.
        #expect(MemoryEngine.level([100, 10, 10], freeing: 114) == 2)
        #expect(MemoryEngine.level([100, 10], freeing: 500) == 0)
    }

    @Test func aFloodOfLargeMessagesCostsItsOwnChannelsTheirHistoryNotTheQuietOnes() {
        let budget = 1 << 20
        let journal = EvictionJournal()
        let engine = MemoryEngine(journal: journal, maxHistoryBytes: { budget })
        for n in 1...20 { _ = engine.publish(Self.message("chat", bytes: 200 + n, app: "quiet"), history: Self.policy) }
        // One client, holding only the public key, publishes 200 messages of 120 KB across ten channels: 24 MB.
        for n in 0..<200 { _ = engine.publish(Self.message("flood-\(n % 10)", bytes: 120_000, app: "noisy"), history: Self.policy) }

        #expect(engine.keptHistoryBytes <= budget)
        let chat = engine.history(app: "quiet", channel: "chat", after: nil, limit: nil, policy: Self.policy)
        #expect(chat.publications.count == 20)
        let flood = engine.history(app: "noisy", channel: "flood-3", after: 0, limit: nil, policy: Self.policy)
        #expect(flood.publications.count < 20 && flood.truncated)
        #expect(flood.latest?.offset == 20)
        // The journal is told what was let go, so durable history forgets it too.
        #expect(journal.evictions.contains { $0.hasPrefix("flood-") })
        #expect(!journal.evictions.contains { $0.hasPrefix("chat") })
    }

    @Test func aFloodSpreadOverThousandsOfChannelsCostsItsOwnAppNotAnotherAppsChannel() {
        let budget = 1 << 20
        let engine = MemoryEngine(maxHistoryBytes: { budget })
        for n in 1...10 { _ = engine.publish(Self.message("quiet", bytes: 1_000 + n, app: "victim"), history: Self.policy) }
        // One 2 KB message to each of 4,000 channels: each stream is smaller than the victim's.
        for n in 0..<4_000 { _ = engine.publish(Self.message("flood-\(n)", bytes: 2_000, app: "noisy"), history: Self.policy) }

        let quiet = engine.history(app: "victim", channel: "quiet", after: nil, limit: nil, policy: Self.policy)
        #expect(quiet.publications.count == 10)
        // A pass frees the excess and a tenth of the budget, not everything.
        #expect(engine.keptHistoryBytes <= budget && engine.keptHistoryBytes > budget / 2)
    }

    @Test func aKeptMessageHoldsItsOwnBytesNotTheFrameItWasCutFrom() {
        var frame = ByteBufferAllocator().buffer(capacity: 1 << 20)
        frame.writeRepeatingByte(UInt8(ascii: "x"), count: 1 << 20)
        let data = frame.getSlice(at: 100, length: 10)!
        var history = ChannelHistory(epoch: "e")
        let publication = Publication(app: "1", channel: "c", data: data, timestamp: 1)
        _ = history.append(publication, policy: Self.policy, now: 1)
        let kept = history.messages(after: 0).publications[0].data
        #expect(kept.readableBytes == 10 && kept.storageCapacity < 1_024)
    }

    @Test func aSmallerBudgetAppliesToTheNextPublish() {
        let budget = Mutex(8 << 20)
        let engine = MemoryEngine(maxHistoryBytes: { budget.withLock { $0 } })
        for n in 0..<40 { _ = engine.publish(Self.message("c-\(n % 4)", bytes: 100_000), history: Self.policy) }
        #expect(engine.keptHistoryBytes > 3_900_000)
        budget.withLock { $0 = 1 << 20 }
        _ = engine.publish(Self.message("c-0", bytes: 10), history: Self.policy)
        #expect(engine.keptHistoryBytes <= 1 << 20)
    }

    @Test func restoredStreamsCountAndAreHeldToTheBudgetFromTheStart() {
        var saved = ChannelHistory(epoch: "e")
        for _ in 1...30 { _ = saved.append(Self.message("c", bytes: 100_000), policy: Self.policy, now: 1) }
        let restored = RestoredStream(app: "1", channel: "c", history: saved, policy: Self.policy, lastPublish: 1)
        let engine = MemoryEngine(restored: [restored], maxHistoryBytes: { 1 << 20 })
        #expect(engine.keptHistoryBytes <= 1 << 20)
        #expect(engine.keptHistoryBytes > 0)
    }

    @Test func readsSweepsAndRemovalsKeepTheCountExact() {
        let engine = MemoryEngine()
        _ = engine.publish(Self.message("a", bytes: 500), history: Self.policy)
        _ = engine.publish(Self.message("b", bytes: 700), history: Self.policy)
        let a = ChannelHistory.cost(of: Self.message("a", bytes: 500))
        let b = ChannelHistory.cost(of: Self.message("b", bytes: 700))
        #expect(engine.keptHistoryBytes == a + b)
        _ = engine.history(app: "1", channel: "a", after: nil, limit: nil, policy: HistoryPolicy(size: 0, ttlMilliseconds: 3_600_000))
        #expect(engine.keptHistoryBytes == b)
        engine.removeHistory(app: "1", channel: "b")
        #expect(engine.keptHistoryBytes == 0)
    }
}

/// A journal that records which streams were cut.
final class EvictionJournal: HistoryJournal {
    private let recorded = Mutex<[String]>([])
    var evictions: [String] { self.recorded.withLock { $0 } }

    func kept(_ publication: Publication, policy: HistoryPolicy) {}
    func dropped(app: String, channel: String) {}
    func evicted(app: String, channel: String, through position: StreamPosition) {
        self.recorded.withLock { $0.append("\(channel) \(position.offset)") }
    }
}

import NIOCore
import Testing

@testable import SwitchboardCore

@Suite struct ChannelHistoryTests {
    let policy = HistoryPolicy(size: 3, ttlMilliseconds: 10_000)

    @Test func offsetsIncreaseByOneAndCarryTheEpoch() {
        var history = ChannelHistory(epoch: "e1")
        let first = history.append(publication("c", "1", at: 1_000), policy: self.policy, now: 1_000)
        let second = history.append(publication("c", "2", at: 1_000), policy: self.policy, now: 1_000)
        #expect(first.position == StreamPosition(offset: 1, epoch: "e1"))
        #expect(second.position == StreamPosition(offset: 2, epoch: "e1"))
    }

    @Test func keepsOnlyTheNewestMessagesUpToItsSize() {
        var history = ChannelHistory(epoch: "e")
        for i in 1...5 { _ = history.append(publication("c", "\(i)", at: 1_000), policy: self.policy, now: 1_000) }
        let page = history.messages(after: 0)
        #expect(page.publications.map { $0.position!.offset } == [3, 4, 5])
        #expect(page.truncated)
        #expect(page.latest?.offset == 5)
    }

    @Test func dropsMessagesOlderThanItsTTL() {
        var history = ChannelHistory(epoch: "e")
        _ = history.append(publication("c", at: 1_000), policy: self.policy, now: 1_000)
        _ = history.append(publication("c", at: 9_000), policy: self.policy, now: 9_000)
        history.trim(policy: self.policy, now: 12_000)
        #expect(history.messages(after: 0).publications.map { $0.position!.offset } == [2])
    }

    @Test func removingAllKeepsTheEpochAndOffsetsContinue() {
        var history = ChannelHistory(epoch: "e")
        for i in 1...2 { _ = history.append(publication("c", "\(i)", at: 1_000), policy: self.policy, now: 1_000) }
        history.removeAll()
        #expect(history.count == 0)
        #expect(history.position == StreamPosition(offset: 2, epoch: "e"))
        let next = history.append(publication("c", "3", at: 1_000), policy: self.policy, now: 1_000)
        #expect(next.position == StreamPosition(offset: 3, epoch: "e"))
        #expect(history.messages(after: 0).publications.map { $0.position!.offset } == [3])
    }

    @Test func replayStartsRightAfterTheGivenOffset() {
        var history = ChannelHistory(epoch: "e")
        for i in 1...3 { _ = history.append(publication("c", "\(i)", at: 1_000), policy: self.policy, now: 1_000) }
        #expect(history.messages(after: 1).publications.map { $0.position!.offset } == [2, 3])
        #expect(history.messages(after: 3).publications.isEmpty)
        #expect(!history.messages(after: 1).truncated)
        #expect(history.messages(after: 1, limit: 1).publications.map { $0.position!.offset } == [2])
    }

    @Test func anOffsetFarBeyondTheStreamDoesNotOverflow() {
        var history = ChannelHistory(epoch: "e")
        _ = history.append(publication("c", at: 1_000), policy: self.policy, now: 1_000)
        #expect(history.messages(after: UInt64.max).publications.isEmpty)
    }
}

@Suite struct RecoveryTests {
    func item(_ offset: UInt64?) -> UInt64? { offset }

    @Test func replayAfterReconnectHasNoGapOrDuplicate() {
        // History covers 4...7; live messages 6...9 arrived while history was read.
        let merged = Recovery.merge(after: 3, history: [4, 5, 6, 7].map(item), buffered: [6, 7, 8, 9].map(item)) { $0 }
        #expect(merged == [4, 5, 6, 7, 8, 9])
    }

    @Test func nothingAtOrBeforeTheClientsOffsetIsRepeated() {
        let merged = Recovery.merge(after: 5, history: [4, 5, 6].map(item), buffered: [5, 6, 7].map(item)) { $0 }
        #expect(merged == [6, 7])
    }

    @Test func aReplayLargerThanTheQueueKeepsItsNewestThatFitInFramesAndBytes() {
        let kept = (1...10).map { n in
            Publication(app: "1", channel: "c", data: ByteBuffer(repeating: 0x78, count: 100 * n), timestamp: Int64(n))
        }
        #expect(Recovery.newest(kept, frames: 3, bytes: 1_000_000).map { $0.timestamp } == [8, 9, 10])
        #expect(Recovery.newest(kept, frames: 100, bytes: 1_900).map { $0.timestamp } == [10, 9].reversed())
        #expect(Recovery.newest(kept, frames: 100, bytes: 999).isEmpty)
        #expect(Recovery.newest(kept, frames: 100, bytes: 1_000_000).count == 10)
    }

    @Test func itemsWithoutOffsetPassThroughInOrder() {
        let merged = Recovery.merge(after: 0, history: [1].map(item), buffered: [nil, 2, nil].map(item)) { $0 }
        #expect(merged == [1, nil, 2, nil])
    }
}

import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import SwitchboardAdapterKit

/// A writer with nothing to write, for a batch to go through.
private final class IdleWriter: LoopWriter {
    func writeQueued() -> Int { 0 }
}

/// A writer whose write takes `time`.
private final class SlowWriter: LoopWriter {
    let time: TimeAmount
    init(_ time: TimeAmount) { self.time = time }
    func writeQueued() -> Int {
        let end = NIODeadline.now() + self.time
        while NIODeadline.now() < end {}
        return 0
    }
}

/// Set once the backlog told its listener.
private final class Told: Sendable {
    let value = Atomic<Bool>(false)
    var isSet: Bool { self.value.load(ordering: .relaxed) }
    func set() { self.value.store(true, ordering: .relaxed) }
}

/// The backlog publishers are paced by (`LoopWriteBacklog`): it tells them when a loop finishes a batch, the only time
/// its lag falls.
@Suite struct LoopWriteBacklogTests {
    @Test func aLoopThatFinishesABatchTellsThoseWaitingForTheLagToFall() {
        let loop = EmbeddedEventLoop()
        let batch = LoopBatch(eventLoop: loop)
        let told = Told()
        batch.add(IdleWriter(), interval: WriteBatchInterval())
        LoopWriteBacklog().whenLagMayFall { told.set() }
        loop.run()
        #expect(told.isSet)
    }

    @Test func aLoopKnowsHowLongItsRecentBatchesTook() {
        let loop = EmbeddedEventLoop()
        let batch = LoopBatch(eventLoop: loop)
        #expect(batch.longestRecentPass(now: .now()) == .zero)
        batch.add(SlowWriter(.milliseconds(20)), interval: WriteBatchInterval())
        loop.run()
        #expect(batch.longestRecentPass(now: .now()) >= .milliseconds(20))
    }

    @Test func theLongestPassIsKeptForAWindowAndTheOneAfterThenForgotten() {
        var passes = LongestRecentPass()
        let start = NIODeadline.now()
        passes.record(.milliseconds(100), at: start)
        #expect(passes.longest(at: start + .milliseconds(500)) == .milliseconds(100))
        // The next window's short batch does not hide the long one that just ended.
        passes.record(.milliseconds(5), at: start + .milliseconds(1_200))
        #expect(passes.longest(at: start + .milliseconds(1_300)) == .milliseconds(100))
        #expect(passes.longest(at: start + .milliseconds(2_500)) == .milliseconds(5))
        #expect(passes.longest(at: start + .milliseconds(3_500)) == .zero)
    }
}

import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import SwitchboardAdapterKit

/// A writer with nothing to write, for a batch to go through.
private final class IdleWriter: LoopWriter {
    func writeQueued() -> Int { 0 }
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
}

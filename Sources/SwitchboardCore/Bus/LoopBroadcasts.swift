public import NIOCore
import Synchronization

/// The broadcasts handed to one event loop and not yet queued on its subscribers there.
///
/// A broadcast reaches a loop's subscribers in a task on that loop, while a connection's reply is queued at once; a
/// connection waits for these before its next message, so what its last message caused reaches it first. The count
/// also bounds the tasks a publisher faster than the loop can pile up there.
public final class LoopBroadcasts: Sendable {
    private let count = Atomic<Int>(0)

    /// Some broadcast is on its way to this loop.
    public var pending: Bool { self.count.load(ordering: .acquiring) > 0 }

    /// Counts one more broadcast on its way, unless `limit` are already: then the caller queues it itself.
    func hand(atMost limit: Int) -> Bool {
        guard self.count.wrappingAdd(1, ordering: .relaxed).newValue > limit else { return true }
        self.count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    /// A broadcast handed here is queued on its subscribers.
    func queued() { self.count.wrappingSubtract(1, ordering: .releasing) }

    private static let loops = PerEventLoop { _ in LoopBroadcasts() }

    /// The record of `loop`'s broadcasts, the same for every caller.
    public static func `for`(_ loop: any EventLoop) -> LoopBroadcasts { self.loops(loop) }
}

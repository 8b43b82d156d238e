public import NIOCore
import Synchronization

/// The broadcasts handed to one event loop and not yet queued on its subscribers there.
///
/// A broadcast reaches a loop's subscribers in a task on that loop, while a connection's reply is queued at once; a
/// connection waits for these before its next message, so what its last message caused reaches it first.
public final class LoopBroadcasts: Sendable {
    private let count = Atomic<Int>(0)

    /// Some broadcast is on its way to this loop.
    public var pending: Bool { self.count.load(ordering: .acquiring) > 0 }

    func handed() { self.count.wrappingAdd(1, ordering: .relaxed) }
    func queued() { self.count.wrappingSubtract(1, ordering: .releasing) }

    /// Event loops live as long as the process, so one record per loop is kept for good.
    private static let loops = Mutex<[ObjectIdentifier: LoopBroadcasts]>([:])

    /// The record of `loop`'s broadcasts, the same for every caller.
    public static func `for`(_ loop: any EventLoop) -> LoopBroadcasts {
        self.loops.withLock { loops in
            let key = ObjectIdentifier(loop)
            if let record = loops[key] { return record }
            let record = LoopBroadcasts()
            loops[key] = record
            return record
        }
    }
}

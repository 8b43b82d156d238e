import NIOCore
public import SwitchboardCore
import Synchronization

/// The write batches of every event loop (WebSockets and event streams), as one backlog: the lag of the loop furthest
/// behind.
public struct LoopWriteBacklog: WriteBacklog {
    public init() {}

    public func lag() -> Duration {
        let now = NIODeadline.now()
        // Read in place, not copied out: every publish asks. A batch's own lock never waits for this one.
        let worst = LoopBatch.batches.reduce(TimeAmount.zero) { max($0, $1.lag(now: now)) }
        return .nanoseconds(worst.nanoseconds)
    }
}

import NIOCore
public import SwitchboardCore
import Synchronization

/// The WebSocket write batches of every event loop, as one backlog: the lag of the loop furthest behind.
public struct LoopWriteBacklog: WriteBacklog {
    public init() {}

    public func lag() -> Duration {
        let now = NIODeadline.now()
        let batches = WebSocketConnectionHandler.LoopBatch.batches.withLock { Array($0.values) }
        let worst = batches.reduce(TimeAmount.zero) { max($0, $1.lag(now: now)) }
        return .nanoseconds(worst.nanoseconds)
    }
}

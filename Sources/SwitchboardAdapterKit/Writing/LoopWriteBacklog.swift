import NIOCore
public import SwitchboardCore
import Synchronization

/// The write batches of every event loop (WebSockets and event streams), as one backlog: the lag of the loop furthest
/// behind.
public struct LoopWriteBacklog: WriteBacklog {
    public init() {}

    public func lag() -> Duration {
        Self.furthest { $0.lag(now: $1) }
    }

    public func passTime() -> Duration {
        Self.furthest { $0.longestRecentPass(now: $1) }
    }

    /// The largest of `read` over every loop's batch. Read in place, not copied out: every publish asks, and a batch's
    /// own lock never waits for this one.
    private static func furthest(_ read: (LoopBatch, NIODeadline) -> TimeAmount) -> Duration {
        let now = NIODeadline.now()
        let furthest = LoopBatch.batches.reduce(TimeAmount.zero) { max($0, read($1, now)) }
        return .nanoseconds(furthest.nanoseconds)
    }

    /// A loop's lag falls only when it finishes a batch (`LoopBatch.run`), which calls `lagMayHaveFallen`.
    public func whenLagMayFall(_ body: @escaping @Sendable () -> Void) {
        Self.listeners.withLock { listeners in
            listeners.append(body)
            Self.listening.store(true, ordering: .releasing)
        }
    }

    /// Who waits to hear that a batch ended, and whether anyone does: a batch reads the flag alone when nobody does.
    private static let listeners = Mutex<[@Sendable () -> Void]>([])
    private static let listening = Atomic<Bool>(false)

    /// Tells those waiting that a loop finished a batch, once each.
    static func lagMayHaveFallen() {
        guard Self.listening.load(ordering: .acquiring) else { return }
        let called = Self.listeners.withLock { listeners -> [@Sendable () -> Void] in
            Self.listening.store(false, ordering: .relaxed)
            defer { listeners.removeAll(keepingCapacity: true) }
            return listeners
        }
        for body in called { body() }
    }
}

import Synchronization

/// Holds a publish back while the writes of earlier broadcasts lag more than the limit behind.
///
/// Without it, a publisher faster than the fan-out fills every subscriber's queue, and each message waits longer than
/// the one before. A wait is bounded by `maxWait`, so a stuck writer slows publishers but never stops them.
public struct PublishPacer: Sendable {
    public let backlog: any WriteBacklog
    /// The lag allowed now (`[limits] publish_lag_ms`, which a reload may change); zero never waits.
    public let limit: @Sendable () -> Duration
    public let maxWait: Duration
    /// How often the lag is read while publishes are held.
    static let tick = Duration.milliseconds(1)
    private let room = WaitingRoom()

    /// A pacer over `backlog` that waits while it lags more than `limit()`, for `maxWait` at most.
    public init(backlog: any WriteBacklog, maxWait: Duration = .seconds(1), limit: @escaping @Sendable () -> Duration) {
        self.backlog = backlog
        self.limit = limit
        self.maxWait = maxWait
    }

    /// A pacer with a fixed limit.
    public init(backlog: any WriteBacklog, limit: Duration, maxWait: Duration = .seconds(1)) {
        self.init(backlog: backlog, maxWait: maxWait) { limit }
    }

    /// Returns once the writes are within the limit (at once when they are), or after `maxWait`.
    ///
    /// A cancelled caller waits like any other: the publish is already out, and only its answer is held.
    public func pace() async {
        let limit = self.limit()
        guard limit > .zero, self.backlog.lag() > limit else { return }
        let deadline = ContinuousClock.now + self.maxWait
        await withCheckedContinuation { continuation in
            if self.room.hold(continuation, until: deadline) { self.watch() }
        }
    }

    /// One task reads the lag each tick for every held publish, so a thousand clients waiting cost what one does (a
    /// sleeping task per publish would wake a thousand times a tick); it ends when none is held.
    private func watch() {
        Task {
            var more = true
            while more {
                try? await Task.sleep(for: Self.tick)
                let limit = self.limit()
                let caughtUp = limit <= .zero || self.backlog.lag() <= limit
                let (released, left) = self.room.release(all: caughtUp, now: .now)
                for continuation in released { continuation.resume() }
                more = left
            }
        }
    }
}

/// The publishes a pacer holds, and whether a task is watching the lag for them.
private final class WaitingRoom: Sendable {
    private struct Held {
        let continuation: CheckedContinuation<Void, Never>
        let deadline: ContinuousClock.Instant
    }

    private struct State {
        var held: [Held] = []
        var watched = false
    }

    private let state = Mutex(State())

    /// Holds a publish until `deadline` at most; true when no task watches yet, so the caller starts one.
    func hold(_ continuation: CheckedContinuation<Void, Never>, until deadline: ContinuousClock.Instant) -> Bool {
        self.state.withLock { state in
            state.held.append(Held(continuation: continuation, deadline: deadline))
            defer { state.watched = true }
            return !state.watched
        }
    }

    /// Takes every held publish when `all`, else those whose wait is over; `left` is false once none is held, and the
    /// watcher then stops (the next `hold` starts another).
    func release(all: Bool, now: ContinuousClock.Instant) -> (released: [CheckedContinuation<Void, Never>], left: Bool) {
        self.state.withLock { state in
            var released: [CheckedContinuation<Void, Never>] = []
            state.held.removeAll { held in
                guard all || held.deadline <= now else { return false }
                released.append(held.continuation)
                return true
            }
            state.watched = !state.held.isEmpty
            return (released, state.watched)
        }
    }
}

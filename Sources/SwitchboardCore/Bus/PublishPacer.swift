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
        guard limit > .zero, !self.caughtUp(limit: limit) else { return }
        let deadline = ContinuousClock.now + self.maxWait
        await withCheckedContinuation { continuation in
            if self.room.hold(continuation, until: deadline) { self.timeOut() }
            self.listen()
        }
    }

    /// Asks the backlog to say when its lag may fall, one request at a time, then reads the lag: a fall between the read
    /// that held a publish and the request is not missed. The held publishes are looked at once per batch of writes, not
    /// once per publish or per millisecond.
    private func listen() {
        guard self.room.startListening() else { return }
        self.backlog.whenLagMayFall {
            self.room.stopListening()
            self.releaseIfCaughtUp()
        }
        self.releaseIfCaughtUp()
    }

    private func releaseIfCaughtUp() {
        let limit = self.limit()
        let caughtUp = limit <= .zero || self.caughtUp(limit: limit)
        let (released, left) = self.room.release(all: caughtUp, now: .now)
        for continuation in released { continuation.resume() }
        if left { self.listen() }
    }

    /// Whether the writes lag little enough for a publish to go on. Once one pass of writes alone takes longer than
    /// the limit (a fan-out to many thousands), a publish let in mid-pass misses the connections already written, which
    /// then wait a whole further pass for it: publishes go on only near a pass's start then, within a tenth of the limit.
    private func caughtUp(limit: Duration) -> Bool {
        let lag = self.backlog.lag()
        if lag <= limit / 10 { return true }
        if lag > limit { return false }
        return self.backlog.passTime() <= limit
    }

    /// Lets held publishes go at their deadlines when the lag stays long: one task sleeps until the earliest, while
    /// any is held.
    private func timeOut() {
        Task {
            while let deadline = self.room.earliestDeadline() {
                try? await Task.sleep(until: deadline, clock: .continuous)
                let (released, _) = self.room.release(all: false, now: .now)
                for continuation in released { continuation.resume() }
            }
        }
    }
}

/// The publishes a pacer holds, whether it waits to hear from the backlog, and whether a task times them out.
private final class WaitingRoom: Sendable {
    private struct Held {
        let continuation: CheckedContinuation<Void, Never>
        let deadline: ContinuousClock.Instant
    }

    private struct State {
        var held: [Held] = []
        var listening = false
        var timed = false
    }

    private let state = Mutex(State())

    /// Holds a publish until `deadline` at most; true when no task times the held ones out yet, so the caller starts one.
    func hold(_ continuation: CheckedContinuation<Void, Never>, until deadline: ContinuousClock.Instant) -> Bool {
        self.state.withLock { state in
            state.held.append(Held(continuation: continuation, deadline: deadline))
            defer { state.timed = true }
            return !state.timed
        }
    }

    /// True when nobody listens to the backlog yet, so the caller does.
    func startListening() -> Bool {
        self.state.withLock { state in
            defer { state.listening = true }
            return !state.listening
        }
    }

    func stopListening() {
        self.state.withLock { $0.listening = false }
    }

    /// The first deadline of those held (they are held in the order of their deadlines); nil, and the timing task
    /// stops, once none is held.
    func earliestDeadline() -> ContinuousClock.Instant? {
        self.state.withLock { state in
            state.timed = !state.held.isEmpty
            return state.held.first?.deadline
        }
    }

    /// Takes every held publish when `all`, else those whose wait is over; `left` is true while any is still held.
    func release(all: Bool, now: ContinuousClock.Instant) -> (released: [CheckedContinuation<Void, Never>], left: Bool) {
        self.state.withLock { state in
            var released: [CheckedContinuation<Void, Never>] = []
            state.held.removeAll { held in
                guard all || held.deadline <= now else { return false }
                released.append(held.continuation)
                return true
            }
            return (released, !state.held.isEmpty)
        }
    }
}

/// Holds a publish back while the writes of earlier broadcasts lag more than the limit behind.
///
/// Without it, a publisher faster than the fan-out fills every subscriber's queue, and each message waits longer than
/// the one before. A wait is bounded by `maxWait`, so a stuck writer slows publishers but never stops them.
public struct PublishPacer: Sendable {
    public let backlog: any WriteBacklog
    /// The lag allowed now (`[limits] publish_lag_ms`, which a reload may change); zero never waits.
    public let limit: @Sendable () -> Duration
    public let maxWait: Duration

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
    public func pace() async {
        let limit = self.limit()
        guard limit > .zero, self.backlog.lag() > limit else { return }
        let clock = ContinuousClock()
        let deadline = clock.now + self.maxWait
        while self.backlog.lag() > limit, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

import Synchronization

/// One token bucket per key (an app id, a connection), created on first use.
public final class RateLimiter: Sendable {
    private let buckets = Mutex<[String: TokenBucket]>([:])
    private let now: @Sendable () -> Double

    /// Creates a limiter reading time from `now` (monotonic seconds).
    public init(now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() }) {
        self.now = now
    }

    /// Takes `cost` tokens (all or none) from `key`'s bucket allowing `perMinute`; nil means unlimited.
    public func allow(_ key: String, perMinute: Int?, cost: Int = 1) -> Bool {
        guard let perMinute else { return true }
        let now = self.now()
        return self.buckets.withLock { buckets in
            var bucket = buckets[key] ?? TokenBucket.perMinute(perMinute, now: now)
            let allowed = bucket.take(Double(cost), now: now)
            buckets[key] = bucket
            return allowed
        }
    }

    /// Forgets `key`'s bucket (when its app is reconfigured).
    public func reset(_ key: String) {
        _ = self.buckets.withLock { $0.removeValue(forKey: key) }
    }
}

/// A token bucket: `capacity` tokens, refilled continuously at `refillPerSecond`.
///
/// A value with no clock of its own; callers pass the time in seconds, so tests drive it directly.
public struct TokenBucket: Sendable {
    /// The most tokens the bucket holds.
    public let capacity: Double
    /// Tokens added per second.
    public let refillPerSecond: Double
    private var tokens: Double
    private var updated: Double

    /// Creates a full bucket at time `now`.
    public init(capacity: Double, refillPerSecond: Double, now: Double) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.tokens = capacity
        self.updated = now
    }

    /// A bucket allowing `perMinute` events per minute, all of them in a burst.
    public static func perMinute(_ perMinute: Int, now: Double) -> TokenBucket {
        TokenBucket(capacity: Double(perMinute), refillPerSecond: Double(perMinute) / 60, now: now)
    }

    /// The same bucket with a new size and rate from `now` on: the tokens it holds at `now` are kept, up to `capacity`.
    public func retuned(capacity: Double, refillPerSecond: Double, now: Double) -> TokenBucket {
        var bucket = self
        _ = bucket.take(0, now: now)
        var retuned = TokenBucket(capacity: capacity, refillPerSecond: refillPerSecond, now: max(now, bucket.updated))
        retuned.tokens = min(capacity, bucket.tokens)
        return retuned
    }

    /// Takes `count` tokens if there are that many; returns whether it did.
    public mutating func take(_ count: Double = 1, now: Double) -> Bool {
        if now > self.updated {
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refillPerSecond)
            self.updated = now
        }
        guard self.tokens >= count else { return false }
        self.tokens -= count
        return true
    }
}

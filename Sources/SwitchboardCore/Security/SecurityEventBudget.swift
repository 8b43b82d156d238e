/// How many security events each client may have kept: a token bucket per client address, one per connection, and
/// one for the whole edge, so a flood of bad frames costs a few stored events and a counter, not a log line each.
///
/// A value with no clock of its own (callers pass monotonic seconds). The buckets live in two generations of at most
/// `maxTracked / 2` entries each: when the newer fills up, the older is forgotten. A forgotten client starts again with
/// a full bucket, so memory stays bounded under a flood of distinct addresses while the edge-wide bucket bounds the total.
public struct SecurityEventBudget: Sendable {
    /// The buckets' sizes, all derived from `[limits] security_events_per_ip_per_second`.
    public struct Limits: Sendable, Equatable {
        /// Events per second one client address may have kept; 0 keeps every event.
        public var perAddressPerSecond: Double
        /// Events one address may have kept at once before the rate applies.
        public var perAddressBurst: Double
        /// Events per second one connection may have kept.
        public var perConnectionPerSecond: Double
        /// Events one connection may have kept at once.
        public var perConnectionBurst: Double
        /// Events per second kept for every client together.
        public var totalPerSecond: Double
        /// Events kept at once for every client together.
        public var totalBurst: Double
        /// Addresses and connections tracked at most.
        public var maxTracked: Int

        /// Limits for `perAddressPerSecond` events per address (`security_events_per_ip_per_second = 20`; 0 = unlimited):
        /// bursts of 2.5 times the rate; a connection gets a quarter of its address's rate and a fifth of its burst; the
        /// whole edge 50 times an address's rate and burst.
        public init(perAddressPerSecond: Int = 20, maxTracked: Int = 10_000) {
            let rate = Double(max(0, perAddressPerSecond))
            self.perAddressPerSecond = rate
            self.perAddressBurst = rate * 2.5
            self.perConnectionPerSecond = max(1, rate / 4)
            self.perConnectionBurst = max(1, rate / 2)
            self.totalPerSecond = rate * 50
            self.totalBurst = rate * 125
            self.maxTracked = max(2, maxTracked)
        }

        /// True when every event is kept.
        public var isUnlimited: Bool { self.perAddressPerSecond <= 0 }
    }

    enum Key: Hashable {
        case address(String)
        case connection(UInt64)
    }

    /// The sizes in force.
    public private(set) var limits: Limits
    private var current: [Key: TokenBucket] = [:]
    private var previous: [Key: TokenBucket] = [:]
    private var total: TokenBucket
    /// Events refused since the start.
    public private(set) var dropped = 0

    /// A budget with every bucket full at `now`.
    public init(_ limits: Limits, now: Double) {
        self.limits = limits
        self.total = TokenBucket(capacity: limits.totalBurst, refillPerSecond: limits.totalPerSecond, now: now)
    }

    /// Puts `limits` in force from `now`: every client starts again with a full bucket of the new size (the dropped
    /// count is kept).
    public mutating func retune(_ limits: Limits, now: Double) {
        guard limits != self.limits else { return }
        self.limits = limits
        self.current = [:]
        self.previous = [:]
        self.total = TokenBucket(capacity: limits.totalBurst, refillPerSecond: limits.totalPerSecond, now: now)
    }

    /// Addresses and connections tracked now (at most `limits.maxTracked`).
    public var tracked: Int { self.current.count + self.previous.count }

    /// Takes one event from the budgets of `connection` when given, of `address` (events with none share one bucket), and
    /// of the edge, narrowest first, so a connection over its share does not spend its address's; false (and one more
    /// dropped) when any of them is spent.
    public mutating func admit(address: String?, connection: ConnectionID? = nil, now: Double) -> Bool {
        guard !self.limits.isUnlimited else { return true }
        var allowed = true
        if let connection {
            allowed = self.take(
                .connection(connection.raw),
                capacity: self.limits.perConnectionBurst,
                rate: self.limits.perConnectionPerSecond,
                now: now
            )
        }
        if allowed {
            allowed = self.take(.address(address ?? ""), capacity: self.limits.perAddressBurst, rate: self.limits.perAddressPerSecond, now: now)
        }
        if allowed { allowed = self.total.take(now: now) }
        if !allowed { self.dropped += 1 }
        return allowed
    }

    private mutating func take(_ key: Key, capacity: Double, rate: Double, now: Double) -> Bool {
        if var bucket = self.current[key] {
            let allowed = bucket.take(now: now)
            self.current[key] = bucket
            return allowed
        }
        var bucket = self.previous.removeValue(forKey: key) ?? TokenBucket(capacity: capacity, refillPerSecond: rate, now: now)
        let allowed = bucket.take(now: now)
        if self.current.count >= self.limits.maxTracked / 2 {
            self.previous = self.current
            self.current = [:]
        }
        self.current[key] = bucket
        return allowed
    }
}

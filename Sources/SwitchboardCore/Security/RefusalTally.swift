/// Refusals counted per client address over a window that starts at the address's first refusal, so an address refused
/// again and again can be blocked (`[limits] auto_block_refusals`).
///
/// It follows at most `maxTracked` addresses: past that, windows that have ended are forgotten (at most once a second,
/// so a flood of new addresses costs no sweep per refusal), and while it is still full a new address goes uncounted.
public struct RefusalTally: Sendable {
    /// When an address trips: `refusals` within `windowSeconds` of its first (0 refusals: never).
    public struct Limits: Sendable, Equatable {
        public var refusals: Int
        public var windowSeconds: Double

        public init(refusals: Int, windowSeconds: Double) {
            self.refusals = refusals
            self.windowSeconds = windowSeconds
        }
    }

    private struct Count {
        var refusals: Int
        var since: Double
    }

    /// The most addresses followed at once.
    public let maxTracked: Int
    private var counts: [String: Count] = [:]
    private var lastSweep = -Double.infinity
    /// Refusals left uncounted because the tally was full.
    public private(set) var uncounted = 0

    public init(maxTracked: Int = 10_000) {
        self.maxTracked = maxTracked
    }

    /// Counts one refusal of `address` at `now` (seconds); true when it is the address's `limits.refusals`-th within its
    /// window. The address then starts again from nothing.
    public mutating func count(_ address: String, now: Double, limits: Limits) -> Bool {
        guard limits.refusals > 0 else { return false }
        if var count = self.counts[address], now - count.since < limits.windowSeconds {
            count.refusals += 1
            guard count.refusals < limits.refusals else {
                self.counts.removeValue(forKey: address)
                return true
            }
            self.counts[address] = count
            return false
        }
        if self.counts[address] == nil, self.counts.count >= self.maxTracked {
            self.forgetEnded(now: now, window: limits.windowSeconds)
            guard self.counts.count < self.maxTracked else {
                self.uncounted += 1
                return false
            }
        }
        guard limits.refusals > 1 else {
            self.counts.removeValue(forKey: address)
            return true
        }
        self.counts[address] = Count(refusals: 1, since: now)
        return false
    }

    /// Addresses followed now.
    public var tracked: Int { self.counts.count }

    private mutating func forgetEnded(now: Double, window: Double) {
        guard now - self.lastSweep >= 1 else { return }
        self.lastSweep = now
        self.counts = self.counts.filter { now - $0.value.since < window }
    }
}

public import SwitchboardCore
import Synchronization

/// New connections per client IP: a token bucket per address (IPv6 by /64, `IPAddress.limitKey`), `perSecond` tokens
/// refilled each second.
///
/// Memory stays bounded: an address idle for a second has a full bucket, the same as none, so such entries are
/// dropped whenever the table reaches `maxAddresses`; if every entry is busy the table starts over.
public final class ConnectionRateLimiter: Sendable {
    struct Entry {
        var bucket: TokenBucket
        var seen: Double
    }

    /// Connections one address may open per second now; 0 allows any number.
    public var perSecond: Int { self.rate() }
    private let rate: @Sendable () -> Int
    let maxAddresses: Int
    private let entries = Mutex<[String: Entry]>([:])
    private let now: @Sendable () -> Double

    /// Creates a limiter reading time from `now` (monotonic seconds).
    public convenience init(perSecond: Int, maxAddresses: Int = 10_000, now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() }) {
        self.init(rate: { perSecond }, maxAddresses: maxAddresses, now: now)
    }

    /// Creates a limiter that follows `[limits] new_connections_per_ip_per_second` as a reload changes it.
    public convenience init(live: LiveLimits, maxAddresses: Int = 10_000, now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() }) {
        self.init(rate: { live.current.newConnectionsPerIPPerSecond }, maxAddresses: maxAddresses, now: now)
    }

    init(rate: @escaping @Sendable () -> Int, maxAddresses: Int, now: @escaping @Sendable () -> Double) {
        self.rate = rate
        self.maxAddresses = max(1, maxAddresses)
        self.now = now
    }

    /// Takes one new connection for `address`; false when it opens them faster than allowed.
    public func allow(_ ip: String) -> Bool {
        let perSecond = self.perSecond
        guard perSecond > 0 else { return true }
        let address = IPAddress.limitKey(of: ip)
        let now = self.now()
        let rate = Double(perSecond)
        return self.entries.withLock { entries in
            if entries[address] == nil, entries.count >= self.maxAddresses {
                entries = entries.filter { now - $0.value.seen < 1 }
                if entries.count >= self.maxAddresses { entries.removeAll(keepingCapacity: true) }
            }
            var entry = entries[address] ?? Entry(bucket: TokenBucket(capacity: rate, refillPerSecond: rate, now: now), seen: now)
            if entry.bucket.refillPerSecond != rate { entry.bucket = entry.bucket.retuned(capacity: rate, refillPerSecond: rate, now: now) }
            let allowed = entry.bucket.take(now: now)
            entry.seen = now
            entries[address] = entry
            return allowed
        }
    }

    /// Addresses currently tracked (for tests).
    public var trackedAddresses: Int { self.entries.withLock { $0.count } }
}

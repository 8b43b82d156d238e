import SwitchboardCore
import Synchronization

/// Counts wrong admin tokens per client address; an address that spends its allowance is locked out for a minute.
///
/// Locked out means its wrong tokens get 429 without being counted further; `AdminAuthorization` still lets the right
/// token through, so clients sharing one address (a load balancer, a NAT) cannot lock operators out.
/// The allowance is a token bucket (`perMinute` failures, refilled over a minute), so honest typos never lock
/// anyone out while a guesser is soon flagged.
final class AdminFailureLimiter: Sendable {
    struct Entry {
        var bucket: TokenBucket
        var lockedUntil: Double
    }

    /// How long an IP stays locked out once its allowance is spent, in seconds.
    static let lockout = 60.0
    /// Entries kept before idle ones are forgotten (bounds memory under a spray of addresses).
    static let maxEntries = 10_000

    let perMinute: Int
    private let entries = Mutex<[String: Entry]>([:])
    private let now: @Sendable () -> Double

    /// Creates a limiter allowing `perMinute` failures per IP, reading monotonic seconds from `now`.
    init(perMinute: Int, now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() }) {
        self.perMinute = perMinute
        self.now = now
    }

    /// Whether `ip` is locked out now.
    func isLocked(_ ip: String) -> Bool {
        let now = self.now()
        return self.entries.withLock { entries in
            guard let entry = entries[ip] else { return false }
            if entry.lockedUntil > now { return true }
            if entry.lockedUntil > 0 { entries[ip] = nil }  // the lockout passed: a fresh allowance
            return false
        }
    }

    /// Counts one failure of `ip`; returns true when that spent its allowance (it is now locked out).
    @discardableResult
    func recordFailure(_ ip: String) -> Bool {
        let now = self.now()
        return self.entries.withLock { entries in
            if entries.count >= Self.maxEntries { entries = entries.filter { $0.value.lockedUntil > now } }
            var entry = entries[ip] ?? Entry(bucket: .perMinute(self.perMinute, now: now), lockedUntil: 0)
            _ = entry.bucket.take(now: now)
            // Probe a copy: an empty bucket locks the IP out without spending anything more.
            var probe = entry.bucket
            if !probe.take(now: now) { entry.lockedUntil = now + Self.lockout }
            entries[ip] = entry
            return entry.lockedUntil > now
        }
    }
}

import Synchronization

/// Open connections per client address, each held by an `AddressHold` until its connection ends.
///
/// Without it one address could open sockets until the process runs out of descriptors (20,000 here), and every other
/// client's connect fails. Addresses in `uncounted` (`[limits] uncounted_addresses`, loopback unless configured) are
/// not counted: a local process (a proxy without `trusted_proxies`, a bench) is trusted as the host is.
public final class ConnectionsByAddress: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let uncounted: AddressRanges

    /// Creates empty counts that leave addresses in `uncounted` out.
    public init(uncounted: AddressRanges = .loopback) {
        self.uncounted = uncounted
    }

    /// Holds one more connection of `ip` unless it already has `limit` (0: no limit); nil when it has.
    public func hold(ip: String?, limit: Int) -> AddressHold? {
        guard let ip, !(IPAddress(ip).map(self.uncounted.contains) ?? false) else { return AddressHold(releasing: nil) }
        let taken = self.counts.withLock { counts -> Bool in
            let open = counts[ip, default: 0]
            guard limit <= 0 || open < limit else { return false }
            counts[ip] = open + 1
            return true
        }
        return taken ? AddressHold(releasing: { self.release(ip) }) : nil
    }

    /// Open connections of `ip` now.
    public func count(ip: String) -> Int { self.counts.withLock { $0[ip, default: 0] } }

    private func release(_ ip: String) {
        self.counts.withLock { counts in
            let left = counts[ip, default: 1] - 1
            counts[ip] = left > 0 ? left : nil
        }
    }
}

/// One connection's place in its address's count: given back once, by `release()` or when the hold is let go.
public final class AddressHold: Sendable {
    private let releasing: Mutex<(@Sendable () -> Void)?>

    init(releasing: (@Sendable () -> Void)?) {
        self.releasing = Mutex(releasing)
    }

    /// Gives the place back (again is a no-op).
    public func release() {
        self.releasing.withLock { $0.take() }?()
    }

    deinit { self.release() }
}

public import SwitchboardCore
import Synchronization

/// Open connections per client address (IPv6 by /64, `IPAddress.limitKey`), each held by an `AddressHold` until its
/// connection ends.
///
/// Without it one address could open sockets until the process runs out of descriptors (20,000 here), and every other
/// client's connect fails. Addresses in `uncounted` (`[limits] uncounted_addresses`, loopback unless configured) are
/// not counted: a local process (a proxy without `trusted_proxies`, a bench) is trusted as the host is. A hold
/// remembers whether it counted, so a reload that changes the list never gives back a place that was not taken.
public final class ConnectionsByAddress: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let uncounted: LiveSetting<AddressRanges>

    /// Creates empty counts that leave the addresses `uncounted` holds at each new connection out.
    public init(uncounted: LiveSetting<AddressRanges>) {
        self.uncounted = uncounted
    }

    /// Creates empty counts that leave addresses in `uncounted` out.
    public convenience init(uncounted: AddressRanges = .loopback) {
        self.init(uncounted: LiveSetting(uncounted))
    }

    /// Holds one more connection of `ip` unless its address already has `limit` (0: no limit); nil when it has.
    public func hold(ip: String?, limit: Int) -> AddressHold? {
        guard let ip else { return AddressHold(releasing: nil) }
        let address = IPAddress(ip)
        if let address, self.uncounted.current.contains(address) { return AddressHold(releasing: nil) }
        let key = address?.limitKey ?? ip
        let taken = self.counts.withLock { counts -> Bool in
            let open = counts[key, default: 0]
            guard limit <= 0 || open < limit else { return false }
            counts[key] = open + 1
            return true
        }
        return taken ? AddressHold(releasing: { self.release(key) }) : nil
    }

    /// Open connections of `ip`'s address now (of its /64, for IPv6).
    public func count(ip: String) -> Int {
        let key = IPAddress.limitKey(of: ip)
        return self.counts.withLock { $0[key, default: 0] }
    }

    private func release(_ key: String) {
        self.counts.withLock { counts in
            let left = counts[key, default: 1] - 1
            counts[key] = left > 0 ? left : nil
        }
    }
}

/// One connection's place in its address's count: given back once, by `release()` or when the hold is let go.
public final class AddressHold: Sendable {
    private let releasing: Mutex<(@Sendable () -> Void)?>

    /// Whether the hold takes a place at all (an uncounted address's takes none).
    public let counts: Bool

    init(releasing: (@Sendable () -> Void)?) {
        self.releasing = Mutex(releasing)
        self.counts = releasing != nil
    }

    /// Gives the place back (again is a no-op).
    public func release() {
        self.releasing.withLock { $0.take() }?()
    }

    deinit { self.release() }
}

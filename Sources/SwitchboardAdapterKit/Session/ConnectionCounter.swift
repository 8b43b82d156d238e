public import SwitchboardCore
import Synchronization

/// Open connections per protocol, for the status page.
public final class ConnectionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    /// Connections opened and closed since start, by protocol (for `switchboard_connections_opened_total` and `_closed_total`).
    private let events = Mutex<[String: (opened: Int, closed: Int)]>([:])
    /// Open WebSocket connections and SSE streams per client address, held to `[limits] max_connections_per_ip`.
    public let byAddress: ConnectionsByAddress
    /// Open TCP connections of every kind per peer address, held to `[limits] max_sockets_per_ip`.
    public let sockets: ConnectionsByAddress
    /// `[limits] uncounted_addresses`, which both counts leave out; a reload replaces it for new connections.
    public let uncounted: LiveSetting<AddressRanges>

    /// Creates zeroed counts that leave addresses in `uncounted` out.
    public init(uncounted: AddressRanges = .loopback) {
        self.uncounted = LiveSetting(uncounted)
        self.byAddress = ConnectionsByAddress(uncounted: self.uncounted)
        self.sockets = ConnectionsByAddress(uncounted: self.uncounted)
    }

    /// Counts a connection of `protocolName` opening.
    public func opened(_ protocolName: String) {
        self.counts.withLock { $0[protocolName, default: 0] += 1 }
        self.events.withLock { $0[protocolName, default: (0, 0)].opened += 1 }
    }

    /// Counts a connection of `protocolName` closing.
    public func closed(_ protocolName: String) {
        self.counts.withLock { $0[protocolName, default: 0] -= 1 }
        self.events.withLock { $0[protocolName, default: (0, 0)].closed += 1 }
    }

    /// Open connections by protocol.
    public var snapshot: [String: Int] { self.counts.withLock { $0 } }

    /// Connections opened and closed since start, by protocol.
    public var totals: [String: (opened: Int, closed: Int)] { self.events.withLock { $0 } }
}

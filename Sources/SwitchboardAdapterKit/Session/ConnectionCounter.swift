import Synchronization

/// Open connections per protocol, for the status page.
public final class ConnectionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Creates zeroed counts.
    public init() {}

    /// Counts a connection of `protocolName` opening.
    public func opened(_ protocolName: String) { self.counts.withLock { $0[protocolName, default: 0] += 1 } }

    /// Counts a connection of `protocolName` closing.
    public func closed(_ protocolName: String) { self.counts.withLock { $0[protocolName, default: 0] -= 1 } }

    /// Open connections by protocol.
    public var snapshot: [String: Int] { self.counts.withLock { $0 } }
}

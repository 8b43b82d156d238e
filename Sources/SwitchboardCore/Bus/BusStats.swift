import Synchronization

/// Counters the status page and metrics read: messages in, deliveries out.
public final class BusStats: Sendable {
    private let published = Atomic<Int>(0)
    private let delivered = Atomic<Int>(0)

    /// Creates zeroed counters.
    public init() {}

    /// Counts one message accepted for publishing.
    public func countPublished() { self.published.add(1, ordering: .relaxed) }
    /// Counts `n` frames handed to subscribers.
    public func countDelivered(_ n: Int) { self.delivered.add(n, ordering: .relaxed) }

    /// Messages accepted since start.
    public var publishedTotal: Int { self.published.load(ordering: .relaxed) }
    /// Frames handed to subscribers since start.
    public var deliveredTotal: Int { self.delivered.load(ordering: .relaxed) }
}

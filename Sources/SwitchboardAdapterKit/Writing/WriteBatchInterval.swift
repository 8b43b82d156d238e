public import NIOCore
public import SwitchboardCore

/// The least time between two batches of writes on one event loop (`[limits] write_batch_ms`): zero writes a message
/// at once; more lets the messages of one interval leave together, one write per connection.
public struct WriteBatchInterval: Sendable {
    /// The interval when no live limits are given.
    public var fixed: TimeAmount = .zero
    /// When set, `write_batch_ms` is read from these limits each time a batch is scheduled (SIGHUP may change it).
    public var limits: LiveLimits?

    /// Batches as soon as a connection is woken.
    public init() {}

    /// The interval in force now.
    public var current: TimeAmount {
        guard let limits = self.limits else { return self.fixed }
        return .milliseconds(Int64(limits.current.writeBatchMilliseconds))
    }
}

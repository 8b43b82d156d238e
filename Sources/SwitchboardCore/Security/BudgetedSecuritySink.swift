import Synchronization

/// Keeps the events a ``SecurityEventBudget`` allows and drops the rest, counting them; never blocks the caller.
///
/// It stands in front of the sinks that store or print events (memory, SQLite, the log). Counters that should see
/// every refusal (`switchboard_refusals_total`) go beside it, not behind it.
public final class BudgetedSecuritySink: SecurityEventSink {
    private let budget: Mutex<SecurityEventBudget>
    private let downstream: any SecurityEventSink
    private let now: @Sendable () -> Double
    private let onDrop: @Sendable (SecurityEvent) -> Void

    /// Forwards to `downstream` what `limits` allow; `onDrop` sees each dropped event (to count it), outside the lock.
    public init(
        limits: SecurityEventBudget.Limits,
        downstream: any SecurityEventSink,
        now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() },
        onDrop: @escaping @Sendable (SecurityEvent) -> Void = { _ in }
    ) {
        self.budget = Mutex(SecurityEventBudget(limits, now: now()))
        self.downstream = downstream
        self.now = now
        self.onDrop = onDrop
    }

    public func record(_ event: SecurityEvent) {
        let now = self.now()
        let allowed = self.budget.withLock { $0.admit(address: event.clientIP, connection: event.connection, now: now) }
        if allowed {
            self.downstream.record(event)
        } else {
            self.onDrop(event)
        }
    }

    /// Events dropped since the start.
    public var dropped: Int { self.budget.withLock { $0.dropped } }

    /// Addresses and connections tracked now.
    public var tracked: Int { self.budget.withLock { $0.tracked } }
}

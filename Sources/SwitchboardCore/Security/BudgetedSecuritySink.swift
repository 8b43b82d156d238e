import Synchronization

/// Keeps the events a ``SecurityEventBudget`` allows and drops the rest, counting them; never blocks the caller.
///
/// It stands in front of the sinks that store or print events (memory, SQLite, the log). Counters that should see
/// every refusal (`switchboard_refusals_total`) go beside it, not behind it.
///
/// Made with `LiveLimits`, it follows `security_events_per_ip_per_second` as a reload changes it, from the next event.
public final class BudgetedSecuritySink: SecurityEventSink {
    private let budget: Mutex<SecurityEventBudget>
    /// Where later limits come from (nil: fixed), and the generation of the ones in force (under `budget`'s lock).
    private let live: LiveLimits?
    private let seen: Mutex<UInt64>
    private let downstream: any SecurityEventSink
    private let now: @Sendable () -> Double
    private let onDrop: @Sendable (SecurityEvent) -> Void
    /// What an event's client address is budgeted as (the edge counts an IPv6 client by its /64).
    private let addressKey: @Sendable (String) -> String

    /// Forwards to `downstream` what `limits` allow; `onDrop` sees each dropped event (to count it), outside the lock.
    public init(
        limits: SecurityEventBudget.Limits,
        downstream: any SecurityEventSink,
        now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() },
        addressKey: @escaping @Sendable (String) -> String = { $0 },
        onDrop: @escaping @Sendable (SecurityEvent) -> Void = { _ in }
    ) {
        self.budget = Mutex(SecurityEventBudget(limits, now: now()))
        self.live = nil
        self.seen = Mutex(0)
        self.downstream = downstream
        self.now = now
        self.addressKey = addressKey
        self.onDrop = onDrop
    }

    /// Forwards to `downstream` what `live`'s `securityEventsPerIPPerSecond` allows, as it is at each event.
    public init(
        live: LiveLimits,
        downstream: any SecurityEventSink,
        now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() },
        addressKey: @escaping @Sendable (String) -> String = { $0 },
        onDrop: @escaping @Sendable (SecurityEvent) -> Void = { _ in }
    ) {
        let (values, generation) = live.snapshot
        self.budget = Mutex(SecurityEventBudget(SecurityEventBudget.Limits(perAddressPerSecond: values.securityEventsPerIPPerSecond), now: now()))
        self.live = live
        self.seen = Mutex(generation)
        self.downstream = downstream
        self.now = now
        self.addressKey = addressKey
        self.onDrop = onDrop
    }

    public func record(_ event: SecurityEvent) {
        let now = self.now()
        if let live = self.live, live.generation != self.seen.withLock({ $0 }) {
            let (values, generation) = live.snapshot
            let limits = SecurityEventBudget.Limits(perAddressPerSecond: values.securityEventsPerIPPerSecond)
            self.seen.withLock { $0 = generation }
            self.budget.withLock { $0.retune(limits, now: now) }
        }
        let address = event.clientIP.map(self.addressKey)
        let allowed = self.budget.withLock { $0.admit(address: address, connection: event.connection, now: now) }
        if allowed {
            self.downstream.record(event)
        } else {
            self.onDrop(event)
        }
    }

    /// The sizes in force.
    public var limits: SecurityEventBudget.Limits { self.budget.withLock { $0.limits } }

    /// Events dropped since the start.
    public var dropped: Int { self.budget.withLock { $0.dropped } }

    /// Addresses and connections tracked now.
    public var tracked: Int { self.budget.withLock { $0.tracked } }
}

import Synchronization

/// This node's usage counts not yet written to the ledger, and each app's cached month-to-date total for quota checks.
///
/// The hot path takes one lock per publish (count and check) and one per broadcast (deliveries); nothing here
/// waits on a store. A flusher calls `take()`, writes the batch to a `UsageLedger`, then `refreshed(...)` with the
/// ledger's month totals (which include other nodes' counts with Redis), or `restore(_:)` when the write failed.
///
/// ```swift
/// guard tally.admit(app: "1001", limit: 3, now: now) else { throw BusError.monthlyQuota(limit: 3) }
/// tally.countPublished(app: "1001", via: "rest", now: now)
/// ```
public final class UsageTally: Sendable {
    struct AppState {
        var pending: [UsageDay: UsageCounts] = [:]
        /// Month-to-date messages in from the ledger at the last refresh, and the month it is for.
        var ledgerTotal = 0
        var ledgerMonth = -1
        /// Messages in counted here since the last refresh (pending or being flushed), and their month.
        var localTotal = 0
        var localMonth = -1
    }

    /// What `take()` handed out: per app, the local month total it covered, to subtract once the ledger has it.
    public struct Taken: Sendable {
        /// The counts to write.
        public var batch: UsageBatch
        var covered: [String: (month: Int, count: Int)]
    }

    private let state = Mutex<[String: AppState]>([:])

    /// Creates an empty tally.
    public init() {}

    /// True when `app` may publish `messages` more messages this month under `limit` (nil is unlimited): a call that
    /// publishes to several channels fits whole or is refused whole.
    public func admit(app: String, limit: Int?, messages: Int = 1, now: Int64) -> Bool {
        guard let limit else { return true }
        let month = UsageDay(milliseconds: now).month
        return self.state.withLock { states in
            guard let state = states[app] else { return messages <= limit }
            return Self.monthTotal(state, month: month) + messages <= limit
        }
    }

    /// Counts one accepted publish of `app` that arrived through protocol `via`.
    public func countPublished(app: String, via: String, now: Int64) {
        let day = UsageDay(milliseconds: now)
        let month = day.month
        self.state.withLock { states in
            states[app, default: AppState()].countPublished(day: day, month: month, via: via)
        }
    }

    /// Counts `count` frames delivered to local subscribers of `app`.
    public func countDelivered(app: String, count: Int, now: Int64) {
        guard count > 0 else { return }
        let day = UsageDay(milliseconds: now)
        self.state.withLock { states in states[app, default: AppState()].pending[day, default: UsageCounts()].deliveries += count }
    }

    /// Counts frames delivered to local subscribers of `app`, by the subscribers' protocol (the total is their sum).
    public func countDelivered(app: String, byProtocol counts: [String: Int], now: Int64) {
        guard counts.values.contains(where: { $0 > 0 }) else { return }
        let day = UsageDay(milliseconds: now)
        self.state.withLock { states in
            var usage = states[app, default: AppState()].pending[day, default: UsageCounts()]
            for (name, count) in counts where count > 0 {
                usage.deliveries += count
                usage.deliveriesByProtocol[name, default: 0] += count
            }
            states[app, default: AppState()].pending[day] = usage
        }
    }

    /// Notes that `app` has `connections` open now (keeps the day's peak), and `protocolConnections` of protocol
    /// `via` when it is given (keeps that protocol's peak).
    public func noteConnections(app: String, connections: Int, via: String? = nil, protocolConnections: Int = 0, now: Int64) {
        guard connections > 0 else { return }
        let day = UsageDay(milliseconds: now)
        self.state.withLock { states in
            var usage = states[app, default: AppState()].pending[day, default: UsageCounts()]
            usage.peakConnections = max(usage.peakConnections, connections)
            if let via, protocolConnections > 0 {
                usage.peakConnectionsByProtocol[via] = max(usage.peakConnectionsByProtocol[via, default: 0], protocolConnections)
            }
            states[app, default: AppState()].pending[day] = usage
        }
    }

    /// Month-to-date messages in of `app`: the ledger's total at the last refresh plus what this node counted since.
    public func monthToDate(app: String, now: Int64) -> Int {
        let month = UsageDay(milliseconds: now).month
        return self.state.withLock { states in states[app].map { Self.monthTotal($0, month: month) } ?? 0 }
    }

    /// Month-to-date messages in of every app this tally knows.
    public func monthToDate(now: Int64) -> [String: Int] {
        let month = UsageDay(milliseconds: now).month
        return self.state.withLock { states in states.mapValues { Self.monthTotal($0, month: month) } }
    }

    /// Counts not yet flushed of `app` (what a read of the ledger alone would miss).
    public func pending(app: String) -> [UsageDay: UsageCounts] { self.state.withLock { $0[app]?.pending ?? [:] } }

    /// Hands out every pending count for writing; the month totals stay until `refreshed`.
    public func take() -> Taken {
        self.state.withLock { states in
            var taken = Taken(batch: UsageBatch(), covered: [:])
            for (app, var state) in states {
                if !state.pending.isEmpty { taken.batch.apps[app] = state.pending }
                taken.covered[app] = (state.localMonth, state.localTotal)
                state.pending = [:]
                states[app] = state
            }
            return taken
        }
    }

    /// Puts back a batch whose write failed, so the next flush tries it again.
    public func restore(_ taken: Taken) {
        self.state.withLock { states in
            for (app, days) in taken.batch.apps {
                for (day, counts) in days { states[app, default: AppState()].pending[day, default: UsageCounts()].merge(counts) }
            }
        }
    }

    /// Replaces the cached month totals with the ledger's (`totals` for the month of `now`, written batch included).
    public func refreshed(_ taken: Taken, totals: [String: Int], now: Int64) {
        let month = UsageDay(milliseconds: now).month
        self.state.withLock { states in
            for app in Set(states.keys).union(totals.keys) {
                var state = states[app, default: AppState()]
                if let covered = taken.covered[app], covered.month == state.localMonth { state.localTotal -= covered.count }
                state.ledgerTotal = totals[app, default: 0]
                state.ledgerMonth = month
                states[app] = state
            }
        }
    }

    /// Sets the month totals from the ledger before anything was counted (at start, so a restart keeps refusing).
    public func load(totals: [String: Int], now: Int64) {
        self.refreshed(Taken(batch: UsageBatch(), covered: [:]), totals: totals, now: now)
    }

    static func monthTotal(_ state: AppState, month: Int) -> Int {
        (state.ledgerMonth == month ? state.ledgerTotal : 0) + (state.localMonth == month ? state.localTotal : 0)
    }
}

extension UsageTally.AppState {
    mutating func countPublished(day: UsageDay, month: Int, via: String) {
        self.pending[day, default: UsageCounts()].messagesIn[via, default: 0] += 1
        if self.localMonth != month {
            self.localMonth = month
            self.localTotal = 0
        }
        self.localTotal += 1
    }
}

import Logging
public import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore

/// One app's month so far against its plan, as alerts and the console read it.
public struct MonthlyUsage: Sendable, Equatable {
    /// The app id.
    public var app: String
    /// Messages in (publishes accepted, every protocol) since the first of this month, UTC; with Redis, every node's.
    public var messages: Int
    /// The plan's `monthly_messages`; nil when unlimited.
    public var limit: Int?

    /// `messages / limit` (0 when unlimited): 0.8 and 1.0 are the alert thresholds.
    public var fraction: Double { self.limit.map { $0 > 0 ? Double(self.messages) / Double($0) : 1 } ?? 0 }
}

/// Keeps usage: flushes the bus's `UsageTally` to the ledger every `interval` and at shutdown, and refreshes each
/// app's month-to-date total from the ledger (so quotas hold across restarts and, with Redis, across nodes).
///
/// Other code reads `monthlyUsage()` (every app) or `monthlyUsage(app:)`: cached figures, no store read.
///
/// ```swift
/// for usage in edge.usage.monthlyUsage() where usage.fraction >= 0.8 { alert(usage.app) }
/// ```
public final class UsageMeter: Service {
    let bus: Bus
    let ledger: any UsageLedger
    let interval: Duration
    let logger: Logger
    let metrics: UsageMetrics?

    init(bus: Bus, ledger: any UsageLedger, interval: Duration = .seconds(2), metrics: UsageMetrics? = nil, logger: Logger) {
        self.bus = bus
        self.ledger = ledger
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    /// Every app the edge serves, with this month's messages and its plan's monthly limit.
    public func monthlyUsage() -> [MonthlyUsage] {
        let totals = self.bus.usage.monthToDate(now: WallClock.milliseconds())
        return self.bus.apps.all.map { MonthlyUsage(app: $0.id, messages: totals[$0.id, default: 0], limit: $0.plan.monthlyMessages) }
    }

    /// One app's month so far; nil for an app the edge does not serve.
    public func monthlyUsage(app: String) -> MonthlyUsage? {
        guard let found = self.bus.apps.app(id: app) else { return nil }
        let messages = self.bus.usage.monthToDate(app: app, now: WallClock.milliseconds())
        return MonthlyUsage(app: app, messages: messages, limit: found.plan.monthlyMessages)
    }

    public func run() async throws {
        // Until the ledger answers once (Redis still connecting), retry often: quotas need the month's totals.
        while await !self.flush(), !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // The wait ends early on graceful shutdown; the flush below then writes what the last interval counted.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            await self.flush()
        }
        await self.flush()
    }

    /// Loads this month's totals from the SQLite store before the edge serves, so a restarted node refuses at once.
    func preload(from store: SQLiteStore) throws {
        let now = WallClock.milliseconds()
        let today = UsageDay(milliseconds: now)
        self.bus.usage.load(totals: try store.storedMessagesIn(from: today.firstOfMonth, to: today), now: now)
    }

    /// Writes what the tally counted since the last flush and reloads month-to-date totals; on failure the counts
    /// stay in the tally for the next try.
    @discardableResult
    func flush() async -> Bool {
        let now = WallClock.milliseconds()
        for app in self.bus.apps.all { self.bus.usage.noteConnections(app: app.id, connections: self.bus.connectionCount(app: app.id), now: now) }
        let taken = self.bus.usage.take()
        do {
            try await self.ledger.add(taken.batch)
        } catch {
            self.bus.usage.restore(taken)
            self.logger.warning("usage flush failed; retrying at the next one", metadata: ["error": "\(error)"])
            return false
        }
        let today = UsageDay(milliseconds: now)
        do {
            let totals = try await self.ledger.messagesIn(from: today.firstOfMonth, to: today)
            self.bus.usage.refreshed(taken, totals: totals, now: now)
            self.metrics?.update(self.monthlyUsage())
            return true
        } catch {
            // The written counts are in the ledger now: count them as the ledger's so they are not counted twice later.
            self.bus.usage.refreshed(taken, totals: self.bus.usage.monthToDate(now: now), now: now)
            self.logger.warning("usage totals could not be read", metadata: ["error": "\(error)"])
            return false
        }
    }
}

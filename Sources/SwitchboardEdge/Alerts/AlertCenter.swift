import Logging
import Prometheus
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The edge's alert rules and their evaluator: one task for the whole edge that, every `interval`, checks each rule's
/// condition, feeds `AlertEpisodes`, and hands each `firing` or `resolved` to `AlertDelivery`.
///
/// Rules from `[[alerts]]` are read-only through the API and replaced by a SIGHUP reload (`replaceConfigured`); rules
/// made through the admin API are kept in the store and loaded again at start. Names are unique across both.
/// `switchboard_alerts_firing{rule}` is the number of open episodes per rule.
final class AlertCenter: Service {
    struct State {
        var rules: [AlertRule]
        var episodes = AlertEpisodes()
        var gauges: [String: Gauge] = [:]
        /// The time of the first round, from which the engine's grace counts.
        var firstRound: Int64?
    }

    /// What deleting a rule did.
    enum Deletion {
        case deleted(AlertRule)
        case notFound
        case configured
    }

    let store: AlertRuleStore
    let sources: AlertSources
    let delivery: AlertDelivery
    let counter: AlertSecurityCounter
    let registry: PrometheusCollectorRegistry?
    let interval: Duration
    let logger: Logger
    /// `engine_unavailable` is not checked for this long (ms) after the first round: a Redis engine connects in the
    /// background after start.
    let engineGrace: Int64
    private let state: Mutex<State>

    init(
        configured: [AlertRule],
        store: AlertRuleStore,
        sources: AlertSources,
        delivery: AlertDelivery,
        counter: AlertSecurityCounter = AlertSecurityCounter(),
        registry: PrometheusCollectorRegistry? = nil,
        interval: Duration = .seconds(1),
        engineGrace: Int64 = 5_000,
        logger: Logger
    ) throws {
        self.store = store
        self.sources = sources
        self.delivery = delivery
        self.counter = counter
        self.registry = registry
        self.interval = interval
        self.logger = logger
        self.engineGrace = engineGrace
        var rules = configured
        for stored in try store.rules() {
            guard !rules.contains(where: { $0.name == stored.name }) else {
                logger.warning("a stored alert rule has the name of a [[alerts]] entry; the config's is used", metadata: ["rule": "\(stored.name)"])
                continue
            }
            do {
                rules.append(try Self.rule(from: stored))
            } catch {
                logger.warning("a stored alert rule is not valid and is skipped", metadata: ["rule": "\(stored.name)", "field": "\(error.field)"])
            }
        }
        self.state = Mutex(State(rules: Array(rules.prefix(AlertRule.maxRules))))
        counter.configure(self.rules)
        for rule in self.rules { self.addGauge(rule.name) }
    }

    static func rule(from stored: StoredAlertRule) throws(AlertRule.Problem) -> AlertRule {
        let kind = AlertRule.Kind(rawValue: stored.kind)
        return try AlertRule.validated(
            name: stored.name,
            kind: stored.kind,
            threshold: kind == .engineUnavailable ? nil : Int64(stored.threshold),
            url: stored.url,
            secret: stored.secret,
            event: stored.event,
            app: stored.app,
            windowSeconds: kind == .securityEvents ? Int64(stored.windowSeconds) : nil,
            source: .api
        )
    }

    /// Every rule: the config's first, then the API's in the order they were made.
    var rules: [AlertRule] { self.state.withLock { $0.rules } }

    /// The open episodes of `rule`, by subject.
    func firing(rule: String) -> [String: AlertEpisodes.Episode] { self.state.withLock { $0.episodes.firing(rule: rule) } }

    /// Stores `rule` and starts evaluating it; 409 when the name is taken or the edge has `AlertRule.maxRules` rules.
    func create(_ rule: AlertRule) throws -> AlertRule {
        let taken: String? = self.state.withLock { state in
            if state.rules.contains(where: { $0.name == rule.name }) { return "an alert rule named \(rule.name) exists" }
            if state.rules.count >= AlertRule.maxRules { return "this edge has the most alert rules it keeps (\(AlertRule.maxRules))" }
            return nil
        }
        if let taken { throw AdminError.conflict(taken) }
        let stored = StoredAlertRule(
            name: rule.name,
            kind: rule.kind.rawValue,
            threshold: rule.threshold,
            url: rule.url,
            secret: rule.secret,
            event: rule.event?.name,
            app: rule.app,
            windowSeconds: rule.windowSeconds,
            createdAt: WallClock.milliseconds()
        )
        guard try self.store.insert(stored) else { throw AdminError.conflict("an alert rule named \(rule.name) exists") }
        var made = rule
        made.source = .api
        self.state.withLock { $0.rules.append(made) }
        self.counter.configure(self.rules)
        self.addGauge(made.name)
        return made
    }

    /// Deletes an API-made rule; its open episodes end without a notification.
    func delete(name: String) throws -> Deletion {
        guard let rule = self.rules.first(where: { $0.name == name }) else { return .notFound }
        guard rule.source == .api else { return .configured }
        _ = try self.store.delete(name: name)
        let gauge = self.state.withLock { state -> Gauge? in
            state.rules.removeAll { $0.name == name }
            state.episodes.forget(rule: name)
            return state.gauges.removeValue(forKey: name)
        }
        if let gauge { self.registry?.unregisterGauge(gauge) }
        self.counter.configure(self.rules)
        return .deleted(rule)
    }

    /// Puts `configured` (a reloaded `[[alerts]]`) in place of the rules that came from the config; rules made through
    /// the admin API stay, after them. An unchanged rule keeps its open episodes; a changed or removed one drops them
    /// without a notification, as a deleted rule does. A config rule named like an API rule is skipped with a warning.
    func replaceConfigured(_ configured: [AlertRule]) {
        let (removed, added, skipped) = self.state.withLock { state -> ([Gauge], [String], [String]) in
            let api = state.rules.filter { $0.source == .api }
            let old = state.rules.filter { $0.source != .api }
            var skipped: [String] = []
            var next: [AlertRule] = []
            for rule in configured {
                if api.contains(where: { $0.name == rule.name }) {
                    skipped.append(rule.name)
                } else {
                    next.append(rule)
                }
            }
            next = Array(next.prefix(max(0, AlertRule.maxRules - api.count)))
            for rule in old where !next.contains(rule) { state.episodes.forget(rule: rule.name) }
            let removed = old.filter { rule in !next.contains { $0.name == rule.name } }.compactMap { state.gauges.removeValue(forKey: $0.name) }
            let added = next.filter { rule in !old.contains { $0.name == rule.name } }.map(\.name)
            state.rules = next + api
            return (removed, added, skipped)
        }
        for name in skipped {
            self.logger.warning(
                "SIGHUP: an [[alerts]] entry has the name of a rule made through the admin API; the API's is kept",
                metadata: ["rule": "\(name)"]
            )
        }
        for gauge in removed { self.registry?.unregisterGauge(gauge) }
        for name in added { self.addGauge(name) }
        self.counter.configure(self.rules)
    }

    func addGauge(_ rule: String) {
        guard let registry = self.registry else { return }
        let gauge = registry.makeGauge(
            descriptor: EdgeMetrics.name("alerts_firing", "", "Open alert episodes per rule (usage rules have one per app and level)."),
            labels: [("rule", rule)]
        )
        gauge.set(Double(0))
        self.state.withLock { $0.gauges[rule] = gauge }
    }

    /// One round: every rule's condition now, the transitions it causes, their notifications queued.
    func evaluate(now: Int64) {
        let rules = self.rules
        let connections = rules.contains { $0.kind == .connections } ? self.sources.connections() : 0
        let usage = rules.contains { $0.kind == .usage } ? self.sources.usage() : []
        let firstRound = self.state.withLock { state in
            if state.firstRound == nil { state.firstRound = now }
            return state.firstRound!
        }
        let engineChecked = now >= firstRound + self.engineGrace
        let engineAvailable = engineChecked && rules.contains { $0.kind == .engineUnavailable } ? self.sources.engineAvailable() : true
        var rounds: [(rule: AlertRule, active: [String: Int64])] = []
        for rule in rules {
            var active: [String: Int64] = [:]
            switch rule.kind {
            case .securityEvents:
                let count = self.counter.count(rule: rule.name, now: now)
                if count > Int64(rule.threshold) { active[""] = count }
            case .connections:
                if connections > rule.threshold { active[""] = Int64(connections) }
            case .engineUnavailable:
                if !engineChecked { continue }
                if !engineAvailable { active[""] = 1 }
            case .usage:
                for entry in usage where rule.app == nil || rule.app == entry.app {
                    guard let limit = entry.limit, limit > 0 else { continue }
                    let used = Int64(clamping: entry.used)
                    for level in Set([rule.threshold, 100]) where Double(entry.used) * 100 >= Double(level) * Double(limit) {
                        active["\(entry.app) at \(level)%"] = used
                    }
                }
            }
            rounds.append((rule, active))
        }
        let (notifications, open) = self.state.withLock { state -> ([AlertNotification], [(Gauge, Int)]) in
            var notifications: [AlertNotification] = []
            for (rule, active) in rounds where state.rules.contains(where: { $0.name == rule.name }) {
                for transition in state.episodes.observe(rule: rule.name, active: active, now: now) {
                    notifications.append(AlertNotification(rule: rule, transition: transition))
                }
            }
            let open = state.gauges.map { ($0.value, state.episodes.firing(rule: $0.key).count) }
            return (notifications, open)
        }
        for (gauge, count) in open { gauge.set(Double(count)) }
        for notification in notifications {
            self.logger.notice(
                "alert \(notification.transition.state.rawValue)",
                metadata: [
                    "rule": "\(notification.rule.name)", "subject": "\(notification.transition.subject)", "value": "\(notification.transition.value)",
                ]
            )
            self.delivery.enqueue(notification)
        }
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // The wait ends early on graceful shutdown, so SIGTERM is not held up for a whole interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            self.evaluate(now: WallClock.milliseconds())
        }
    }
}

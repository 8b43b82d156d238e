import Prometheus
import Synchronization

/// `switchboard_app_monthly_messages{app}` and `switchboard_app_monthly_messages_limit{app}` (unlimited plans have no
/// limit series), set at each usage flush; one series per served app, dropped when the app goes.
final class UsageMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let gauges = Mutex<[String: (messages: Gauge, limit: Gauge?)]>([:])

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func update(_ usage: [MonthlyUsage]) {
        let gone = self.gauges.withLock { gauges in
            for entry in usage {
                if gauges[entry.app] == nil || (gauges[entry.app]?.limit == nil) != (entry.limit == nil) {
                    if let old = gauges[entry.app] { Self.unregister(old, from: self.registry) }
                    let labels = [("app", entry.app)]
                    gauges[entry.app] = (
                        self.registry.makeGauge(
                            descriptor: EdgeMetrics.name("app_monthly_messages", "", "Messages in this month (UTC) by app, every node."),
                            labels: labels
                        ),
                        entry.limit == nil
                            ? nil
                            : self.registry.makeGauge(
                                descriptor: EdgeMetrics.name("app_monthly_messages_limit", "", "The plan's monthly_messages by app."),
                                labels: labels
                            )
                    )
                }
                gauges[entry.app]?.messages.set(Double(entry.messages))
                if let limit = entry.limit { gauges[entry.app]?.limit?.set(Double(limit)) }
            }
            let known = Set(usage.map(\.app))
            let gone = gauges.filter { !known.contains($0.key) }
            for app in gone.keys { gauges[app] = nil }
            return Array(gone.values)
        }
        for entry in gone { Self.unregister(entry, from: self.registry) }
    }

    static func unregister(_ entry: (messages: Gauge, limit: Gauge?), from registry: PrometheusCollectorRegistry) {
        registry.unregisterGauge(entry.messages)
        if let limit = entry.limit { registry.unregisterGauge(limit) }
    }
}

import Prometheus
import SwitchboardCore
import Synchronization

/// Connections, messages and refusals per app, under an `app` label.
///
/// Only apps the registry knows get a label, and the series of an app that is deleted are dropped at the next scrape,
/// so the number of series stays bounded by the number of apps (a refusal for an unknown key counts only in
/// `switchboard_refusals_total`). Messages are counted as the bus reports them (`ChannelObserver`), refusals as the
/// security events arrive (`SecurityEventSink`): one locked dictionary lookup and one atomic add each.
final class AppMetrics: ChannelObserver, SecurityEventSink {
    /// One app's series.
    struct Series {
        var connections: Gauge
        var messagesIn: Counter
        var messagesOut: Counter
        var deliveries: Counter
        var refusals: [String: Counter] = [:]
    }

    let registry: PrometheusCollectorRegistry
    let apps: AppRegistry
    private let series = Mutex<[String: Series]>([:])

    init(registry: PrometheusCollectorRegistry, apps: AppRegistry) {
        self.registry = registry
        self.apps = apps
    }

    /// The series of `app`, made at first use; nil for an app the registry does not know.
    private func withSeries(_ app: String, _ body: (inout Series) -> Void) {
        self.series.withLock { all in
            if all[app] == nil {
                guard self.apps.app(id: app) != nil else { return }
                all[app] = self.make(app)
            }
            body(&all[app]!)
        }
    }

    private func make(_ app: String) -> Series {
        let labels = [("app", app)]
        return Series(
            connections: self.registry.makeGauge(
                descriptor: EdgeMetrics.name("app_connections", "", "Open client connections by app."),
                labels: labels
            ),
            messagesIn: self.registry.makeCounter(
                descriptor: EdgeMetrics.name("app_messages_in", "total", "Messages accepted for publishing on this node, by app."),
                labels: labels
            ),
            messagesOut: self.registry.makeCounter(
                descriptor: EdgeMetrics.name("app_messages_out", "total", "Messages fanned out to this node's subscribers, by app."),
                labels: labels
            ),
            deliveries: self.registry.makeCounter(
                descriptor: EdgeMetrics.name("app_deliveries", "total", "Frames handed to subscribers, by app."),
                labels: labels
            )
        )
    }

    func published(_ publication: Publication) { self.withSeries(publication.app) { $0.messagesIn.increment() } }

    func fannedOut(_ publication: Publication, subscribers: Int) {
        self.withSeries(publication.app) { series in
            series.messagesOut.increment()
            if subscribers > 0 { series.deliveries.increment(by: Int64(subscribers)) }
        }
    }

    func record(_ event: SecurityEvent) {
        guard let app = event.app else { return }
        self.withSeries(app) { series in
            if series.refusals[event.kind.name] == nil {
                series.refusals[event.kind.name] = self.registry.makeCounter(
                    descriptor: EdgeMetrics.name("app_refusals", "total", "Refused requests by app and security event kind."),
                    labels: [("app", app), ("kind", event.kind.name)]
                )
            }
            series.refusals[event.kind.name]!.increment()
        }
    }

    /// Sets each app's connection gauge (every known app appears, at 0 when idle) and drops deleted apps' series.
    func refresh(connections: (String) -> Int) {
        let known = Set(self.apps.all.map(\.id))
        for app in known { self.withSeries(app) { $0.connections.set(Double(connections(app))) } }
        let gone = self.series.withLock { all in
            let gone = all.filter { !known.contains($0.key) }
            for app in gone.keys { all[app] = nil }
            return Array(gone.values)
        }
        for series in gone {
            self.registry.unregisterGauge(series.connections)
            for counter in [series.messagesIn, series.messagesOut, series.deliveries] + Array(series.refusals.values) {
                self.registry.unregisterCounter(counter)
            }
        }
    }
}

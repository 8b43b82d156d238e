import Prometheus
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardRedis
import Synchronization

/// What an operator scrapes besides the bus counters: build info, the process, connection opens and closes, per-app
/// series, HTTP requests and the Redis engine's health and command latency. It shares `EdgeMetrics`' registry and is
/// brought up to date at each scrape.
final class OperationsMetrics: Sendable {
    static let redisBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5),
    ]

    let registry: PrometheusCollectorRegistry
    let bus: Bus
    let connections: ConnectionCounter
    let process: ProcessMetrics
    let apps: AppMetrics
    let http: HTTPMetrics
    /// `switchboard_redis_up` and `switchboard_redis_command_duration_seconds`, with the Redis engine only.
    let redis: (up: Gauge, commands: DurationHistogram)?
    /// `switchboard_history_bytes`: on Redis, every node's kept history there, as of the last sweep.
    let history: Gauge
    /// The connection totals already copied into the counters, by protocol.
    private let copied = Mutex<[String: (opened: Int, closed: Int)]>([:])

    init(registry: PrometheusCollectorRegistry, bus: Bus, connections: ConnectionCounter) {
        self.registry = registry
        self.bus = bus
        self.connections = connections
        self.process = ProcessMetrics(registry: registry)
        self.apps = AppMetrics(registry: registry, apps: bus.apps)
        self.http = HTTPMetrics(registry: registry)
        registry.makeGauge(
            descriptor: EdgeMetrics.name("build_info", "", "Always 1; the labels say which release runs."),
            labels: [("version", Edge.version)]
        ).set(1.0)
        if let engine = bus.engine as? RedisEngine {
            let up = registry.makeGauge(descriptor: EdgeMetrics.name("redis_up", "", "1 while Redis answers both connections in time, else 0."))
            let commands = registry.makeDurationHistogram(
                descriptor: EdgeMetrics.name("redis_command_duration", "seconds", "Round trip of each command on the command connection."),
                buckets: Self.redisBuckets
            )
            engine.commandTimer.observe { commands.record($0) }
            self.redis = (up, commands)
        } else {
            self.redis = nil
        }
        self.history = registry.makeGauge(
            descriptor: EdgeMetrics.name("history_bytes", "", "What the kept messages of every channel hold, under [limits] max_history_mb.")
        )
        for name in EdgeMetrics.protocols { self.connectionCounters(name) }
        bus.observers.register(self.apps, name: "app-metrics")
    }

    @discardableResult
    func connectionCounters(_ protocolName: String) -> (opened: Counter, closed: Counter) {
        let labels = [("protocol", protocolName)]
        return (
            self.registry.makeCounter(
                descriptor: EdgeMetrics.name("connections_opened", "total", "Client connections opened, by protocol."),
                labels: labels
            ),
            self.registry.makeCounter(
                descriptor: EdgeMetrics.name("connections_closed", "total", "Client connections closed, by protocol."),
                labels: labels
            )
        )
    }

    /// Brings the gauges and copied totals up to date; called by `EdgeMetrics.render()` before the text is written.
    func refresh() {
        self.process.refresh()
        self.apps.refresh { self.bus.connectionCount(app: $0) }
        self.copied.withLock { copied in
            for (name, totals) in self.connections.totals {
                let counters = self.connectionCounters(name)
                let before = copied[name, default: (0, 0)]
                counters.opened.increment(by: Int64(max(0, totals.opened - before.opened)))
                counters.closed.increment(by: Int64(max(0, totals.closed - before.closed)))
                copied[name] = (max(totals.opened, before.opened), max(totals.closed, before.closed))
            }
        }
        self.redis?.up.set(self.bus.engine.isAvailable ? 1.0 : 0.0)
        if let bytes = self.bus.engine.historyBytes { self.history.set(Double(bytes)) }
    }
}

import Prometheus

/// `switchboard_config_reloads_total` and `switchboard_config_reload_failures_total`: SIGHUP reloads applied and refused
/// (a refused one keeps the running config; alert on the failures).
final class ConfigReloadMetrics: Sendable {
    let reloads: Counter
    let failures: Counter

    init(registry: PrometheusCollectorRegistry) {
        self.reloads = registry.makeCounter(descriptor: EdgeMetrics.name("config_reloads", "total", "Config reloads (SIGHUP) applied."))
        self.failures = registry.makeCounter(
            descriptor: EdgeMetrics.name("config_reload_failures", "total", "Config reloads (SIGHUP) refused: a bad file keeps the running config.")
        )
    }

    func succeeded() { self.reloads.increment() }
    func failed() { self.failures.increment() }
}

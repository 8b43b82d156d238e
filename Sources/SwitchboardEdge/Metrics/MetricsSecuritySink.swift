import SwitchboardCore

/// Counts every security event as a refusal of its kind, beside the store and the log.
struct MetricsSecuritySink: SecurityEventSink {
    let metrics: EdgeMetrics

    func record(_ event: SecurityEvent) {
        self.metrics.refused(event.kind)
        // Per app too (`switchboard_app_refusals_total`), for apps the registry knows.
        self.metrics.operations.apps.record(event)
    }
}

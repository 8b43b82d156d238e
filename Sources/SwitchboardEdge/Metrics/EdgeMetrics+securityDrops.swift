import Prometheus

extension EdgeMetrics {
    /// Why a security event was not kept: over its client's budget, or overwritten in the full store buffer.
    enum SecurityDropReason: String, CaseIterable {
        case budget
        case queue
    }

    /// `switchboard_security_events_dropped_total{reason}`: events refused by the budget or lost from the store's queue.
    func securityEventsDropped(_ reason: SecurityDropReason) -> Counter {
        self.registry.makeCounter(
            descriptor: Self.name("security_events_dropped", "total", "Security events not kept: over a client's budget, or the store's queue full."),
            labels: [("reason", reason.rawValue)]
        )
    }

    /// Makes the drop counters, so a scrape shows them at 0 before anything was dropped.
    func registerSecurityDrops() {
        for reason in SecurityDropReason.allCases { _ = self.securityEventsDropped(reason) }
    }
}

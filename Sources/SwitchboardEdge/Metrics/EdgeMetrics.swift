import Prometheus
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// The edge's Prometheus metrics, rendered by `GET /metrics` in the text exposition format.
///
/// Totals the hot path already keeps (bus counters, bytes written) are copied in at scrape time; what only the
/// metrics need (fan-outs, their latency, refusals) is counted as it happens, once per message or refusal.
final class EdgeMetrics: Sendable {
    /// Protocols that always appear in the connections gauge, at 0 when none is open.
    static let protocols = ["jsonaction", "pusher", "jwt", "sse"]
    /// Fan-out latency buckets: from a tenth of a millisecond to ten seconds.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(10),
    ]

    let registry = PrometheusCollectorRegistry()
    let bus: Bus
    let connections: ConnectionCounter
    let messagesIn: Counter
    let messagesOut: Counter
    let deliveries: Counter
    let bytesOut: Counter
    let subscriptions: Gauge
    let channels: Gauge
    let latency: DurationHistogram
    /// Build info, the process, per-app series, HTTP requests, Redis (OperationsMetrics.swift).
    let operations: OperationsMetrics
    /// The totals already copied into the counters, so each scrape adds only what is new.
    private let copied = Mutex((published: 0, delivered: 0, bytes: 0))

    /// Creates the metrics of `bus` and `connections`.
    init(bus: Bus, connections: ConnectionCounter) {
        self.bus = bus
        self.connections = connections
        let r = self.registry
        self.messagesIn = r.makeCounter(descriptor: Self.name("messages_in", "total", "Messages accepted for publishing on this node."))
        self.messagesOut = r.makeCounter(
            descriptor: Self.name("messages_out", "total", "Messages fanned out to this node's subscribers (once per message).")
        )
        self.deliveries = r.makeCounter(descriptor: Self.name("deliveries", "total", "Frames handed to subscribers (once per subscriber)."))
        self.bytesOut = r.makeCounter(descriptor: Self.name("bytes_out", "total", "Bytes of WebSocket frames and SSE events written."))
        self.subscriptions = r.makeGauge(descriptor: Self.name("subscriptions", "", "Channel subscriptions on this node."))
        self.channels = r.makeGauge(descriptor: Self.name("channels", "", "Channels with subscribers on this node."))
        self.latency = r.makeDurationHistogram(
            descriptor: Self.name("fanout_latency", "seconds", "From publish to queued on every local subscriber, once per message."),
            buckets: Self.latencyBuckets
        )
        self.operations = OperationsMetrics(registry: r, bus: bus, connections: connections)
        for name in Self.protocols { _ = self.connectionGauge(name) }
        for kind in SecurityEvent.Kind.all { _ = self.refusalCounter(kind) }
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "switchboard", metricName: metric, unitName: unit, helpText: help)
    }

    func connectionGauge(_ protocolName: String) -> Gauge {
        self.registry.makeGauge(
            descriptor: Self.name("connections", "", "Open client connections by protocol."),
            labels: [("protocol", protocolName)]
        )
    }

    func refusalCounter(_ kind: SecurityEvent.Kind) -> Counter {
        self.registry.makeCounter(
            descriptor: Self.name("refusals", "total", "Refused requests by security event kind."),
            labels: [("kind", kind.name)]
        )
    }

    /// Counts one refusal (every security event is one).
    func refused(_ kind: SecurityEvent.Kind) { self.refusalCounter(kind).increment() }

    /// Counts one message's fan-out and times it from publish; messages from other nodes are timed by wall clock.
    func fannedOut(_ publication: Publication, subscribers: Int) {
        self.messagesOut.increment()
        guard subscribers > 0 else { return }
        if let publishedAt = publication.publishedAt {
            self.latency.record(ContinuousClock.now - publishedAt)
        } else {
            self.latency.record(.milliseconds(max(0, WallClock.milliseconds() - publication.timestamp)))
        }
    }

    /// The text exposition, with the gauges and copied totals brought up to date first.
    func render() -> String {
        self.copied.withLock { copied in
            let published = self.bus.stats.publishedTotal
            let delivered = self.bus.stats.deliveredTotal
            let bytes = WireTraffic.bytesOutTotal
            self.messagesIn.increment(by: Int64(max(0, published - copied.published)))
            self.deliveries.increment(by: Int64(max(0, delivered - copied.delivered)))
            self.bytesOut.increment(by: Int64(max(0, bytes - copied.bytes)))
            copied = (max(published, copied.published), max(delivered, copied.delivered), max(bytes, copied.bytes))
            var open = Dictionary(uniqueKeysWithValues: Self.protocols.map { ($0, 0) })
            for (name, count) in self.connections.snapshot { open[name] = count }
            for (name, count) in open { self.connectionGauge(name).set(Double(max(0, count))) }
            let occupancy = self.bus.hub.occupancy()
            self.subscriptions.set(Double(occupancy.values.reduce(0) { $0 + $1.values.reduce(0, +) }))
            self.channels.set(Double(occupancy.values.reduce(0) { $0 + $1.count }))
        }
        self.operations.refresh()
        return self.registry.emitToString()
    }
}

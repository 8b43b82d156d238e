import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct EdgeMetricsTests {
    let app = App(id: "1", key: "k", secrets: ["s"], plan: .enterprise)

    func metrics() -> (Bus, EdgeMetrics) {
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [self.app]))
        let metrics = EdgeMetrics(bus: bus, connections: ConnectionCounter())
        bus.observers.register(FanOutTimer(metrics: metrics), name: "metrics")
        return (bus, metrics)
    }

    @Test func aPublishMovesMessagesInAndOut() async throws {
        let (bus, metrics) = self.metrics()
        let publication = Publication(app: "1", channel: "c", data: ByteBuffer(string: "{}"), timestamp: WallClock.milliseconds())
        _ = try await bus.publish(publication, app: self.app)
        let text = metrics.render()
        #expect(text.contains("switchboard_messages_in_total 1\n"))
        #expect(text.contains("switchboard_messages_out_total 1\n"))
        // Nobody was subscribed, so nothing was delivered and no latency was observed.
        #expect(text.contains("switchboard_deliveries_total 0\n"))
        #expect(text.contains("switchboard_fanout_latency_seconds_count 0\n"))
    }

    @Test func everySecurityEventCountsAsARefusalOfItsKind() {
        let (_, metrics) = self.metrics()
        let sink = MetricsSecuritySink(metrics: metrics)
        sink.record(SecurityEvent(time: 0, app: nil, kind: .rateLimited, detail: "x"))
        sink.record(SecurityEvent(time: 0, app: nil, kind: .rateLimited, detail: "y"))
        let text = metrics.render()
        #expect(text.contains("switchboard_refusals_total{kind=\"rate_limited\"} 2\n"))
        #expect(text.contains("switchboard_refusals_total{kind=\"over_quota\"} 0\n"))
        #expect(text.contains("switchboard_connections{protocol=\"sse\"} 0.0\n"))
    }
}

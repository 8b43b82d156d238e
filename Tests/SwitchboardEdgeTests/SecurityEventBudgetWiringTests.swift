import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Testing

@testable import SwitchboardEdge

@Suite struct SecurityEventBudgetWiringTests {
    /// The edge's security sink with the default limits, its store's writer, the store and the metrics.
    static func edgeSink() throws -> (any SecurityEventSink, SecurityEventWriter, SQLiteStore, EdgeMetrics) {
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: []))
        let metrics = EdgeMetrics(bus: bus, connections: ConnectionCounter())
        let store = try SQLiteStore(path: ":memory:")
        let logger = Logger(label: "test")
        let writer = SecurityEventWriter(store: store, logger: logger, onDrop: Edge.countQueueDrops(metrics))
        let sink = Edge.securitySink(writer: writer, metrics: metrics, limits: LiveLimits(SwitchboardConfig.Limits().live), logger: logger)
        return (sink, writer, store, metrics)
    }

    @Test func theBudgetKeyIsReadWithItsDefaultAndRange() throws {
        #expect(try ConfigLoader.parse("").limits.securityEventsPerIPPerSecond == 20)
        #expect(try ConfigLoader.parse("[limits]\nsecurity_events_per_ip_per_second = 5").limits.securityEventsPerIPPerSecond == 5)
        #expect(try ConfigLoader.parse("[limits]\nsecurity_events_per_ip_per_second = 0").limits.securityEventsPerIPPerSecond == 0)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("[limits]\nsecurity_events_per_ip_per_second = -1") }
    }

    @Test func everyRefusalIsCountedButOnlyTheBudgetIsStoredAndTheRestCountedAsDropped() throws {
        let (sink, writer, store, metrics) = try Self.edgeSink()
        #expect(metrics.render().contains("switchboard_security_events_dropped_total{reason=\"budget\"} 0\n"))
        for n in 0..<500 {
            sink.record(SecurityEvent(time: Int64(n), app: "1", kind: .badRequest, clientIP: "192.0.2.7", detail: "bad frame \(n)"))
        }
        writer.flush()
        let text = metrics.render()
        #expect(text.contains("switchboard_refusals_total{kind=\"bad_request\"} 500\n"))
        // A burst of 50 (the test runs well within a second, so at most a few more refill).
        let stored = try store.securityEvents(SecurityEventQuery(limit: 1000)).count
        #expect(stored >= 50 && stored < 60)
        #expect(text.contains("switchboard_security_events_dropped_total{reason=\"budget\"} \(500 - stored)\n"))
        #expect(text.contains("switchboard_security_events_dropped_total{reason=\"queue\"} 0\n"))
    }

    @Test func anIPv6ClientsFreshAddressesShareTheBudgetOfItsSlash64() throws {
        let (sink, writer, store, _) = try Self.edgeSink()
        for n in 0..<500 {
            let address = "2001:db8:5:6::\(String(n + 1, radix: 16))"
            sink.record(SecurityEvent(time: Int64(n), app: "1", kind: .badRequest, clientIP: address, detail: "bad frame \(n)"))
        }
        sink.record(SecurityEvent(time: 500, app: "1", kind: .badRequest, clientIP: "2001:db8:5:7::1", detail: "another /64"))
        writer.flush()
        let stored = try store.securityEvents(SecurityEventQuery(limit: 1000))
        #expect(stored.count >= 51 && stored.count < 61)
        #expect(stored.contains { $0.detail == "another /64" })
    }

    @Test func aFullStoreQueueOverwritesTheOldestAndCountsThem() throws {
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: []))
        let metrics = EdgeMetrics(bus: bus, connections: ConnectionCounter())
        let store = try SQLiteStore(path: ":memory:")
        let writer = SecurityEventWriter(store: store, maxBuffered: 10, logger: Logger(label: "test"), onDrop: Edge.countQueueDrops(metrics))
        metrics.registerSecurityDrops()
        for n in 0..<25 { writer.record(SecurityEvent(time: Int64(n), app: nil, kind: .badRequest, detail: "e\(n)")) }
        #expect(writer.droppedTotal == 15)
        writer.flush()
        #expect(try store.securityEvents(SecurityEventQuery(limit: 100)).map(\.detail).first == "e24")
        #expect(try store.securityEvents(SecurityEventQuery(limit: 100)).count == 10)
        #expect(metrics.render().contains("switchboard_security_events_dropped_total{reason=\"queue\"} 15\n"))
    }
}

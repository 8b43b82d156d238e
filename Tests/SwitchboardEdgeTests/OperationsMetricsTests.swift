import Foundation
import Logging
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct OperationsMetricsTests {
    let one = App(id: "1", key: "k1", secrets: ["s1"], plan: .enterprise)
    let two = App(id: "2", key: "k2", secrets: ["s2"], plan: .enterprise)

    func metrics() -> (Bus, EdgeMetrics, ConnectionCounter) {
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [self.one, self.two]))
        let connections = ConnectionCounter()
        let metrics = EdgeMetrics(bus: bus, connections: connections)
        bus.observers.register(FanOutTimer(metrics: metrics), name: "metrics")
        return (bus, metrics, connections)
    }

    func publish(_ bus: Bus, _ app: App) async throws {
        _ = try await bus.publish(
            Publication(app: app.id, channel: "c", data: ByteBuffer(string: "{}"), timestamp: WallClock.milliseconds()),
            app: app
        )
    }

    @Test func messagesAndRefusalsAreCountedPerApp() async throws {
        let (bus, metrics, _) = self.metrics()
        try await self.publish(bus, self.one)
        try await self.publish(bus, self.one)
        try await self.publish(bus, self.two)
        let sink = MetricsSecuritySink(metrics: metrics)
        sink.record(SecurityEvent(time: 0, app: "2", kind: .originBlocked, detail: "x"))
        let text = metrics.render()
        #expect(text.contains("switchboard_app_messages_in_total{app=\"1\"} 2\n"))
        #expect(text.contains("switchboard_app_messages_in_total{app=\"2\"} 1\n"))
        #expect(text.contains("switchboard_app_messages_out_total{app=\"1\"} 2\n"))
        #expect(text.contains("switchboard_app_refusals_total{app=\"2\",kind=\"origin_blocked\"} 1\n"))
        #expect(text.contains("switchboard_app_connections{app=\"1\"} 0.0\n"))
    }

    @Test func appsTheRegistryDoesNotKnowGetNoSeriesAndDeletedAppsLoseTheirs() async throws {
        let (bus, metrics, _) = self.metrics()
        let sink = MetricsSecuritySink(metrics: metrics)
        // An event naming an app nobody configured (a guessed id) must not mint a label.
        sink.record(SecurityEvent(time: 0, app: "guessed-\(UUID())", kind: .unknownKey, detail: "x"))
        sink.record(SecurityEvent(time: 0, app: nil, kind: .unknownKey, detail: "x"))
        try await self.publish(bus, self.two)
        #expect(!metrics.render().contains("guessed-"))
        #expect(metrics.render().contains("switchboard_refusals_total{kind=\"unknown_key\"} 2\n"))
        _ = bus.apps.remove(id: "2")
        let text = metrics.render()
        #expect(!text.contains("app=\"2\""))
        #expect(text.contains("switchboard_app_connections{app=\"1\"}"))
    }

    @Test func connectionOpensAndClosesAreCountedByProtocol() {
        let (_, metrics, connections) = self.metrics()
        connections.opened("pusher")
        connections.opened("pusher")
        connections.closed("pusher")
        var text = metrics.render()
        #expect(text.contains("switchboard_connections_opened_total{protocol=\"pusher\"} 2\n"))
        #expect(text.contains("switchboard_connections_closed_total{protocol=\"pusher\"} 1\n"))
        #expect(text.contains("switchboard_connections_opened_total{protocol=\"sse\"} 0\n"))
        connections.closed("pusher")
        text = metrics.render()
        #expect(text.contains("switchboard_connections_closed_total{protocol=\"pusher\"} 2\n"))
    }

    @Test func buildInfoAndTheProcessAreReported() {
        let (_, metrics, _) = self.metrics()
        let text = metrics.render()
        #expect(text.contains("switchboard_build_info{version=\"\(Edge.version)\"} 1.0\n"))
        for family in [
            "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds",
        ] {
            #expect(text.contains("# TYPE \(family) "), "\(family)")
        }
        // The memory engine has no Redis families.
        #expect(!text.contains("switchboard_redis_up"))
    }

    @Test func procStatIsReadPastACommandNameWithSpacesAndParentheses() throws {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
        // priority nice threads itrealvalue starttime vsize rss ...
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 8 0 1000 123456789 2048 18446744073709551615"
        let reading = try #require(ProcessMetrics.parse(stat: stat, bootTime: 1_700_000_000, ticksPerSecond: 100, pageSize: 4096))
        #expect(reading.cpuSeconds == 4.0)
        #expect(reading.residentBytes == 2048 * 4096)
        #expect(reading.virtualBytes == 123_456_789)
        #expect(reading.startTimeSeconds == 1_700_000_010)
        #expect(ProcessMetrics.parse(stat: "garbage", bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test func httpRequestsAreCountedByRoutePatternAndMethod() {
        let (_, metrics, _) = self.metrics()
        let http = metrics.operations.http
        http.record(method: "POST", route: "/_rt/api/publish", status: 200, duration: .milliseconds(3))
        http.record(method: "POST", route: "/_rt/api/publish", status: 200, duration: .milliseconds(30))
        http.record(method: "POST", route: "/_rt/api/publish", status: 401, duration: .milliseconds(1))
        let text = metrics.render()
        #expect(text.contains("switchboard_http_requests_total{method=\"POST\",route=\"/_rt/api/publish\",status=\"200\"} 2\n"))
        #expect(text.contains("switchboard_http_requests_total{method=\"POST\",route=\"/_rt/api/publish\",status=\"401\"} 1\n"))
        #expect(text.contains("switchboard_http_request_duration_seconds_count{method=\"POST\",route=\"/_rt/api/publish\"} 3\n"))
    }
}

@Suite struct JSONLogLineTests {
    @Test func aRecordIsOneLineOfJSONWithItsMetadata() throws {
        let event = LogEvent(
            level: .warning,
            message: "cannot connect to \"redis\"\nretrying",
            metadata: ["kind": "origin_blocked", "list": ["a", "b"]],
            source: "SwitchboardEdge",
            file: #fileID,
            function: #function,
            line: #line
        )
        let line = JSONLogLine.line(event: event, label: "switchboard", handlerMetadata: ["node": "n1"], time: Date(timeIntervalSince1970: 1.5))
        let text = String(buffer: line)
        #expect(text.hasSuffix("}\n"))
        #expect(text.dropLast().contains("\n") == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "1970-01-01T00:00:01.500Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "switchboard")
        #expect(object["message"] as? String == "cannot connect to \"redis\"\nretrying")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["kind"] as? String == "origin_blocked")
        #expect(metadata["node"] as? String == "n1")
        #expect(metadata["list"] as? [String] == ["a", "b"])
    }
}

@Suite struct TextLogLineTests {
    @Test func aClientsStringWithFieldsInsideStaysOneQuotedValue() {
        let event = LogEvent(
            level: .notice,
            message: "security event",
            metadata: ["kind": "unknown_key", "detail": "no app with key x ip=6.6.6.6 kind=bad_signature", "ip": "127.0.0.1", "path": #"a\b"c"#],
            source: "SwitchboardEdge",
            file: #fileID,
            function: #function,
            line: #line
        )
        let line = TextLogLine.line(event: event, label: "switchboard", handlerMetadata: [:], time: Date(timeIntervalSince1970: 1.5))
        let fields = #"detail="no app with key x ip=6.6.6.6 kind=bad_signature" ip=127.0.0.1 kind=unknown_key path="a\\b\"c""#
        #expect(line == "1970-01-01T00:00:01.500Z notice switchboard: " + fields + " [SwitchboardEdge] security event\n")
    }
}

@Suite struct EmbeddedFilesTests {
    /// Whatever `Public/` holds when the package is built is in the binary, byte for byte (the EmbedFiles plugin).
    @Test func everyFileUnderPublicIsEmbeddedAsItIs() throws {
        let public_ = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/SwitchboardEdge/Public")
            .standardized
        let enumerator = try #require(FileManager.default.enumerator(atPath: public_.path))
        var count = 0
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: public_.appendingPathComponent(path).path, isDirectory: &isDirectory),
                !isDirectory.boolValue, !path.split(separator: "/").contains(where: { $0.hasPrefix(".") })
            else { continue }
            let embedded = try #require(EmbeddedFiles.file(at: path), "\(path) is not embedded")
            #expect(Data(embedded.readableBytesView) == FileManager.default.contents(atPath: public_.appendingPathComponent(path).path), "\(path)")
            count += 1
        }
        #expect(count >= 4)
        #expect(EmbeddedFiles.file(at: "console/index.html") != nil)
        #expect(EmbeddedFiles.file(at: "console/missing.js") == nil)
    }
}

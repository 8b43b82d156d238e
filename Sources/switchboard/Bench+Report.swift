extension Bench {
    /// The outcome of one run, printed as a single JSON line so scripts can collect and compare runs.
    struct Report: Sendable {
        var wire: WireProtocol
        var subscribers = 0
        /// Subscribers that connected and were confirmed subscribed.
        var connections = 0
        var channels = 0
        var threads = 0
        var rate = 0
        var size = 0
        var publishing = PublisherTally()
        /// Seconds from the first publish to the last.
        var publishSeconds = 0.0
        var expected: UInt64 = 0
        var delivery = Tally()
        /// Seconds from the first publish to the last delivery.
        var deliverySeconds = 0.0
        var connectTime = LatencyHistogram()
        /// Seconds to open and subscribe all connections.
        var connectSeconds = 0.0
        var connectFailures = 0
        var firstConnectError: String?
        /// Server resident memory (kB) before connecting, once all are subscribed, and at the end.
        var serverMemory: ServerMemory?
        /// The bench's own resident memory at the end (kB).
        var clientMemory: Int?
        /// Subscribers offered permessage-deflate.
        var compression = false
        /// Payloads were padded with words.
        var textPadding = false
        /// Bytes the subscribers read from the first publish until the deliveries drained.
        var publishWireBytes: UInt64 = 0
        /// Server CPU seconds (user + system) over the same span, with `--server-pid`.
        var serverCPUSeconds: Double?

        var jsonLine: String {
            var json = JSONLine()
            json.field("protocol", self.wire.rawValue)
            json.field("subscribers", self.subscribers)
            json.field("connections", self.connections)
            json.field("channels", self.channels)
            json.field("threads", self.threads)
            json.field("rate", self.rate)
            json.field("size", self.size)
            json.field("published", self.publishing.accepted)
            json.field("publish_per_s", self.publishSeconds > 0 ? Double(self.publishing.accepted) / self.publishSeconds : 0)
            json.object("publish_ms") { json in Self.quantiles(self.publishing.roundTrip, into: &json, max: false) }
            json.field("expected", self.expected)
            json.field("received", self.delivery.received)
            json.field("missing", self.expected > self.delivery.received ? self.expected - self.delivery.received : 0)
            json.field("deliveries_per_s", self.deliverySeconds > 0 ? Double(self.delivery.received) / self.deliverySeconds : 0)
            json.object("latency_ms") { json in Self.quantiles(self.delivery.latency, into: &json, max: true) }
            json.field("connect_s", self.connectSeconds)
            json.object("connect_ms") { json in Self.quantiles(self.connectTime, into: &json, max: true) }
            json.object("errors") { json in
                json.field("connect", self.connectFailures)
                json.field("publish", self.publishing.failed + self.publishing.connectFailures)
                json.field("rate_limited", self.publishing.rateLimited)
                json.field("disconnects", self.delivery.disconnects)
                json.field("protocol", self.delivery.protocolErrors)
                json.field("stale", self.delivery.stale)
            }
            if let error = self.firstConnectError ?? self.publishing.firstError ?? self.delivery.firstError { json.field("first_error", error) }
            if let memory = self.serverMemory {
                json.object("server_rss_kb") { json in
                    json.field("before", memory.before)
                    json.field("subscribed", memory.subscribed)
                    json.field("end", memory.end)
                }
                json.field("server_bytes_per_connection", self.connections > 0 ? (memory.subscribed - memory.before) * 1024 / self.connections : 0)
            }
            if let client = self.clientMemory { json.field("client_rss_kb", client) }
            json.field("compression", self.compression ? "on" : "off")
            json.field("padding", self.textPadding ? "text" : "x")
            json.field("compressed_connections", self.delivery.compressedConnections)
            json.field("compressed_frames", self.delivery.compressedFrames)
            json.field("wire_bytes_per_delivery", self.delivery.received > 0 ? Double(self.publishWireBytes) / Double(self.delivery.received) : 0)
            if let cpu = self.serverCPUSeconds {
                json.field("server_cpu_s", cpu)
                json.field("server_cpu_us_per_delivery", self.delivery.received > 0 ? cpu * 1e6 / Double(self.delivery.received) : 0)
            }
            return json.finish()
        }

        static func quantiles(_ histogram: LatencyHistogram, into json: inout JSONLine, max: Bool) {
            let ms = { (micros: UInt64) in Double(micros) / 1000 }
            json.field("p50", ms(histogram.value(atQuantile: 0.5)))
            json.field("p90", ms(histogram.value(atQuantile: 0.9)))
            json.field("p99", ms(histogram.value(atQuantile: 0.99)))
            if max { json.field("max", ms(histogram.maximum)) }
        }
    }

    /// Writes one flat-ish JSON object in field order (which `JSONEncoder` does not promise).
    struct JSONLine {
        private var text = "{"
        private var first = true

        mutating func field(_ key: String, _ value: Int) {
            self.key(key)
            self.text += String(value)
        }

        mutating func field(_ key: String, _ value: UInt64) {
            self.key(key)
            self.text += String(value)
        }

        mutating func field(_ key: String, _ value: Double) {
            self.key(key)
            // Three decimals: milliseconds to the microsecond, rates to well below their noise.
            let scaled = (value * 1000).rounded()
            self.text += scaled.isFinite ? String(scaled / 1000) : "null"
        }
        mutating func field(_ key: String, _ value: String) {
            self.key(key)
            self.text += "\""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": self.text += "\\\""
                case "\\": self.text += "\\\\"
                case "\n": self.text += "\\n"
                case "\r": self.text += "\\r"
                case "\t": self.text += "\\t"
                case _ where scalar.value < 0x20: self.text += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                default: self.text.unicodeScalars.append(scalar)
                }
            }
            self.text += "\""
        }
        mutating func object(_ key: String, _ body: (inout JSONLine) -> Void) {
            self.key(key)
            var nested = JSONLine()
            body(&nested)
            self.text += nested.finish()
        }

        func finish() -> String { self.text + "}" }

        private mutating func key(_ key: String) {
            if !self.first { self.text += "," }
            self.first = false
            self.text += "\"\(key)\":"
        }
    }
}

import ArgumentParser
import NIOCore
import NIOPosix

/// `switchboard bench`: a load generator in its own process that imports no server code, so it can drive
/// Switchboard and reference servers (nchan) alike and report them in the same terms.
///
/// It opens `--subscribers` WebSocket subscribers, publishes over keep-alive HTTP/1.1 at `--rate`, waits for the
/// deliveries to drain, and prints one JSON line: deliveries, publish-to-receive latency, connect time, errors and,
/// with `--server-pid`, the server's memory per connection.
///
///     switchboard bench --port 18080 --key pk_bench --secret sk_bench_0123456789abcdef0123456789ab \
///         --subscribers 1000 --rate 1000 --duration 10 --server-pid $(pgrep -f 'switchboard serve')
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure delivery rate, latency and memory per connection of a running server.",
        discussion: """
            jsonaction (default): subscribers connect to ws://HOST:PORT/_rt/ws?key=KEY and subscribe; publishes go to
            POST /_rt/api/publish with the app secret. pusher and jwt: subscribers speak Pusher v7 at /app/KEY or
            the Centrifugo JSON protocol at /connection/websocket (anonymous), publishes go to the same REST API. raw: subscribers connect to --subscribe-url and every frame is a
            delivery; publishes POST the bare payload to --publish-url ({channel} in either URL is the channel name).
            Each payload is {"t":MONOTONIC_NS,"p":"xxx"} padded to --size bytes. Prints one JSON line on stdout.
            """
    )

    @Option(name: .customLong("protocol"), help: "jsonaction, pusher, jwt or raw.")
    var wire: WireProtocol = .jsonAction

    @Option(help: "Server address (jsonaction).")
    var host = "127.0.0.1"

    @Option(
        name: .customLong("subscriber-ports"),
        help: "Spread subscribers round-robin over these ports of --host (the nodes of one cluster), e.g. 18080,18081; publishes still go to --port."
    )
    var subscriberPorts: String?

    @Option(help: "Server port (jsonaction).")
    var port = 8080

    @Option(help: "App key subscribers connect with (jsonaction).")
    var key = "pk_dev_demo"

    @Option(help: "App secret publishes are authorized with (jsonaction).")
    var secret = "sk_dev_demo"

    @Option(help: "The channel, or the prefix of per-subscriber channels.")
    var channel = "bench"

    @Option(name: .customLong("subscribe-url"), help: "WebSocket URL subscribers connect to (raw), e.g. ws://127.0.0.1:8090/sub/{channel}.")
    var subscribeURL: String?

    @Option(name: .customLong("publish-url"), help: "URL publishes are POSTed to (raw), e.g. http://127.0.0.1:8090/pub/{channel}.")
    var publishURL: String?

    @Option(help: "WebSocket subscribers to open.")
    var subscribers = 100

    @Option(help: "Channels of its own per subscriber (CHANNEL-i, CHANNEL-i-j); 0 puts every subscriber on --channel.")
    var channelsPerSubscriber: Int?

    @Flag(help: "Connect and subscribe only (one channel each unless --channels-per-subscriber says otherwise): the idle-memory case.")
    var idle = false

    @Option(help: "Publishes per second; 0 publishes as fast as the server answers (--publishers in flight).")
    var rate = 100

    @Option(help: "Seconds to publish for (default 10 unless --messages is given).")
    var duration: Double?

    @Option(help: "Messages to publish in all.")
    var messages: Int?

    @Option(help: "Payload bytes per message.")
    var size = 100

    @Option(help: "Keep-alive publishing connections, each with one publish in flight.")
    var publishers = 4

    @Option(help: "Event loop threads shared by subscribers and publishers.")
    var threads = System.coreCount

    @Option(help: "Connections being opened at once.")
    var connectConcurrency = 200

    @Option(help: "Seconds a subscriber may take to connect, upgrade and subscribe.")
    var connectTimeout = 10.0

    @Option(help: "Seconds to wait for outstanding deliveries after the last publish.")
    var drain = 5.0

    @Option(help: "Seconds to let the server settle before sampling its memory.")
    var settle = 1.0

    @Option(help: "Server process ids (comma-separated, summed) whose VmRSS to sample.")
    var serverPid: String?

    @Flag(help: "Subscribers offer permessage-deflate (server_no_context_takeover) and inflate what comes compressed.")
    var compression = false

    @Flag(help: "Pad payloads with words (about as compressible as JSON text) instead of x's.")
    var textPadding = false

    @Option(help: "Spread subscribers over this many source addresses 127.0.0.2, 127.0.0.3, … (needed past ~25,000 connections).")
    var sourceAddresses = 0

    func validate() throws {
        guard self.subscribers >= 0, self.rate >= 0, self.size >= 0 else { throw ValidationError("counts must not be negative") }
        guard self.publishers >= 1, self.threads >= 1, self.connectConcurrency >= 1 else {
            throw ValidationError("--publishers, --threads and --connect-concurrency must be at least 1")
        }
        guard (self.channelsPerSubscriber ?? 0) >= 0, self.sourceAddresses >= 0, self.sourceAddresses <= 250 else {
            throw ValidationError("--channels-per-subscriber must not be negative; --source-addresses is 0 to 250")
        }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        if let messages, messages < 1 { throw ValidationError("--messages must be positive") }
        if self.wire == .raw {
            guard self.subscribeURL != nil, self.publishURL != nil || self.idle else {
                throw ValidationError("--protocol raw needs --subscribe-url and --publish-url")
            }
            guard (self.channelsPerSubscriber ?? 0) <= 1 else { throw ValidationError("--protocol raw subscribes to one channel per connection") }
        }
        _ = try self.scenario()
    }

    func run() async throws {
        let scenario = try self.scenario()
        FileLimit.raiseToHardLimit()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        let report: Report
        do {
            report = try await Runner(scenario: scenario, group: group).run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
        print(report.jsonLine)
        if report.connections == 0 || (!scenario.idle && report.publishing.accepted == 0) { throw ExitCode(1) }
    }

    /// Turns the options into what the runner needs: resolved addresses, paths, channel names.
    func scenario() throws -> Scenario {
        let subscribe: Endpoint
        let publish: Endpoint
        switch self.wire {
        case .jsonAction:
            subscribe = Endpoint(host: self.host, port: self.port, path: "/_rt/ws?key=\(self.key)")
            publish = Endpoint(host: self.host, port: self.port, path: "/_rt/api/publish")
        case .pusher:
            subscribe = Endpoint(host: self.host, port: self.port, path: "/app/\(self.key)?protocol=7&client=switchboard-bench&version=1")
            publish = Endpoint(host: self.host, port: self.port, path: "/_rt/api/publish")
        case .jwt:
            subscribe = Endpoint(host: self.host, port: self.port, path: "/connection/websocket?key=\(self.key)")
            publish = Endpoint(host: self.host, port: self.port, path: "/_rt/api/publish")
        case .raw:
            guard let sub = Endpoint(url: self.subscribeURL ?? "", schemes: ["ws"]) else {
                throw ValidationError("--subscribe-url must look like ws://127.0.0.1:8090/sub/{channel}")
            }
            guard let pub = Endpoint(url: self.publishURL ?? "http://127.0.0.1/", schemes: ["http"]) else {
                throw ValidationError("--publish-url must look like http://127.0.0.1:8090/pub/{channel}")
            }
            subscribe = sub
            publish = pub
        }
        let nodePorts = try (self.subscriberPorts ?? "").split(separator: ",").map { text -> Int in
            guard let port = Int(text.trimmingPrefix(" ")), (1...65535).contains(port) else {
                throw ValidationError("--subscriber-ports takes ports like 18080,18081")
            }
            return port
        }
        let subscribeTo = try (nodePorts.isEmpty ? [subscribe.port] : nodePorts).map {
            try SocketAddress.makeAddressResolvingHost(subscribe.host, port: $0)
        }
        let ownChannels = self.channelsPerSubscriber ?? (self.idle ? 1 : 0)
        var sources: [SocketAddress] = []
        for index in 0..<self.sourceAddresses { sources.append(try SocketAddress(ipAddress: "127.0.0.\(index + 2)", port: 0)) }
        let pids = try (self.serverPid ?? "").split(separator: ",").map { text -> Int32 in
            guard let pid = Int32(text.trimmingPrefix(" ")), pid > 0 else { throw ValidationError("--server-pid takes process ids like 1234,1235") }
            return pid
        }
        return Scenario(
            wire: self.wire,
            subscribe: subscribe,
            subscribeTo: subscribeTo,
            publish: publish,
            key: self.key,
            secret: self.wire == .raw ? nil : self.secret,
            channel: self.channel,
            subscribers: self.subscribers,
            channelsPerSubscriber: ownChannels,
            idle: self.idle,
            rate: self.rate,
            duration: self.duration ?? (self.messages == nil ? 10 : nil),
            messages: self.messages,
            size: self.size,
            publishers: self.publishers,
            threads: self.threads,
            connectConcurrency: self.connectConcurrency,
            connectTimeout: .nanoseconds(Int64(self.connectTimeout * 1e9)),
            drain: self.drain,
            settle: self.settle,
            serverPids: pids,
            sourceAddresses: sources,
            compression: self.compression,
            textPadding: self.textPadding
        )
    }

    /// The monotonic clock payload timestamps use; bench and receiver are one process, so the clocks agree.
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}

extension Bench {
    /// Which server dialect the subscribers and publisher speak.
    enum WireProtocol: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// Switchboard's JSON-action WebSocket and REST publish API.
        case jsonAction = "jsonaction"
        /// Any server whose frames are the published bodies (nchan).
        case raw
        /// Pusher Channels v7 subscribers at `/app/KEY`; publishes go through the JSON-action REST API.
        case pusher
        /// JWT (Centrifugo v2 JSON) subscribers at `/connection/websocket`, connecting anonymously (the app must
        /// allow it); publishes go through the JSON-action REST API.
        case jwt
    }

    /// Everything a run needs, resolved from the command line.
    struct Scenario: Sendable {
        var wire: WireProtocol
        var subscribe: Endpoint
        /// Where subscribers connect, round-robin: the subscribe endpoint, or every node of a cluster.
        var subscribeTo: [SocketAddress]
        var publish: Endpoint
        var key: String
        var secret: String?
        var channel: String
        var subscribers: Int
        /// 0: everyone on `channel`; n: channels `channel-i` (n = 1) or `channel-i-j` of their own.
        var channelsPerSubscriber: Int
        var idle: Bool
        var rate: Int
        var duration: Double?
        var messages: Int?
        var size: Int
        var publishers: Int
        var threads: Int
        var connectConcurrency: Int
        var connectTimeout: TimeAmount
        var drain: Double
        var settle: Double
        var serverPids: [Int32]
        var sourceAddresses: [SocketAddress]
        /// Subscribers offer permessage-deflate.
        var compression = false
        /// Payloads padded with words rather than x's.
        var textPadding = false

        /// The channels subscriber `index` subscribes to.
        func channels(ofSubscriber index: Int) -> [String] {
            switch self.channelsPerSubscriber {
            case 0: [self.channel]
            case 1: ["\(self.channel)-\(index)"]
            default: (0..<self.channelsPerSubscriber).map { "\(self.channel)-\(index)-\($0)" }
            }
        }
    }

    /// Where to connect: host, port and path, from `--host/--port` or a `ws://` / `http://` URL.
    struct Endpoint: Sendable {
        var host: String
        var port: Int
        var path: String

        init(host: String, port: Int, path: String) {
            self.host = host
            self.port = port
            self.path = path
        }

        init?(url: String, schemes: [String]) {
            guard let separator = url.firstRange(of: "://"), schemes.contains(String(url[..<separator.lowerBound])) else { return nil }
            let rest = url[separator.upperBound...]
            let authority = rest.prefix { $0 != "/" }
            self.path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
            if let colon = authority.lastIndex(of: ":") {
                guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
                self.host = String(authority[..<colon])
                self.port = port
            } else {
                self.host = String(authority)
                self.port = 80
            }
            guard !self.host.isEmpty else { return nil }
        }

        var hostHeader: String { "\(self.host):\(self.port)" }

        func address() throws -> SocketAddress { try SocketAddress.makeAddressResolvingHost(self.host, port: self.port) }
    }

    /// A failure the bench explains in its own words.
    struct BenchError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

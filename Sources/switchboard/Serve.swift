import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardEdge
import SwitchboardStore

/// `switchboard serve`: runs the edge on a config file until SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the edge.")

    @Option(
        help: """
            The TOML configuration file (default conf/switchboard.toml; none is needed when SWITCHBOARD_APP_ID names an app). \
            SWITCHBOARD_<SECTION>_<KEY> variables override its keys.
            """
    )
    var config: String?

    @Option(help: "Listen on this address instead of [server] host.")
    var host: String?

    @Option(help: "Listen on this port instead of [server] port (0 picks a free one).")
    var port: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "text, or json: one JSON object per line (logs on stderr, the start-up banner on stdout).")
    var logFormat: LogFormat = .text

    func run() async throws {
        switch self.logFormat {
        case .json: LoggingSystem.bootstrap { LineLogHandler(label: $0, format: .json) }
        case .text: LoggingSystem.bootstrap { LineLogHandler(label: $0, format: .text) }
        }
        var settings: SwitchboardConfig
        do {
            settings = try ConfigLoader.serveConfiguration(path: self.config, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("switchboard: config error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let level = Logger.Level(rawValue: self.logLevel) else {
            let message = "switchboard: config error: --log-level: must be one of trace, debug, info, notice, warning, error, critical\n"
            FileHandle.standardError.write(Data(message.utf8))
            throw ExitCode(2)
        }
        if let host { settings.server.host = host }
        if let port {
            guard (0...65535).contains(port) else {
                FileHandle.standardError.write(Data("switchboard: config error: --port: must be between 0 and 65535\n".utf8))
                throw ExitCode(2)
            }
            settings.server.port = port
        }
        // After --host and the environment: the addresses and token that would really be served.
        if let problem = AdminTokenPolicy.problem(settings) {
            FileHandle.standardError.write(Data("switchboard: \(problem)\n".utf8))
            throw ExitCode(2)
        }
        FileLimit.raiseToHardLimit()

        var logger = Logger(label: "switchboard")
        logger.logLevel = level
        let edge: Edge
        do {
            edge = try Edge(config: settings, logger: logger)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("switchboard: config error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let host = settings.server.host
        // The app as the store has it now (its secret may have been rotated since the config was written).
        let shown = settings.defaultApp.flatMap { edge.bus.apps.app(id: $0) } ?? edge.bus.apps.all.first
        let format = self.logFormat
        try await edge.run { port in
            let banner = format == .json ? Self.jsonBanner(app: shown, host: host, port: port) : Self.banner(app: shown, host: host, port: port)
            FileHandle.standardOutput.write(Data((banner + "\n").utf8))
        } onListening: { listener in
            let line = format == .json ? Self.jsonListening(listener) : "listening on \(listener)"
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    /// The start-up lines. The secret is printed only for a `development` app (the demo): a real app's secret
    /// never reaches stdout or logs, only its preview.
    static func banner(app: App?, host: String, port: Int) -> String {
        let base = "http://\(host):\(port)"
        var lines = ["switchboard \(Edge.version) listening on \(base)"]
        if let app {
            let development = app.environment == "development"
            let secret = development ? app.signingSecret : StoredKey.preview(of: app.signingSecret)
            lines += [
                "app \(app.id): key \(app.key)  secret \(secret)  plan \(app.plan.name)",
                "",
                "publish:",
                "  curl -s -X POST \(base)/_rt/api/publish -H 'Authorization: Bearer \(development ? secret : "$SECRET")' "
                    + "-H 'Content-Type: application/json' -d '{\"channel\":\"demo\",\"data\":{\"text\":\"hello\"}}'",
                "subscribe (WebSocket):",
                "  wscat -c 'ws://\(host):\(port)/_rt/ws?key=\(app.key)' -x '{\"action\":\"subscribe\",\"channel\":\"demo\"}' -w 60",
                "subscribe (SSE):",
                "  curl -N '\(base)/sse?key=\(app.key)&channel=demo'",
                "chat in a browser: \(base)/examples/chat.html?key=\(app.key)",
            ]
        }
        return lines.joined(separator: "\n")
    }
}

/// Lets one process hold as many sockets as the machine allows.
enum FileLimit {
    static func raiseToHardLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

import ArgumentParser
import SwitchboardEdge

/// The `switchboard` command: serve the edge, mint tokens, run the load generator.
@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A realtime edge: Pusher, JSON-action, JWT and SSE clients on one channel bus.",
        // `switchboard --version`: the constant the banner, `/api/health` and the gateway status report.
        version: Edge.version,
        subcommands: [Serve.self, Token.self, Bench.self, DevCert.self],
        defaultSubcommand: Serve.self
    )
}

import ArgumentParser

/// The `switchboard` command: serve the edge, mint tokens, run the load generator.
@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A realtime edge: Pusher, JSON-action, JWT and SSE clients on one channel bus.",
        subcommands: [Serve.self, Token.self, Bench.self, DevCert.self],
        defaultSubcommand: Serve.self
    )
}

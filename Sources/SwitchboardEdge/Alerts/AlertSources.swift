/// What the alert evaluator reads each round, as closures the edge wires to the bus, the connection counter and the
/// usage meter, so the evaluator is tested without a server.
struct AlertSources: Sendable {
    /// This node's open client connections.
    var connections: @Sendable () -> Int = { 0 }
    /// Whether the engine can deliver (false is what `/health` reports as `degraded`).
    var engineAvailable: @Sendable () -> Bool = { true }
    /// Each app's month-to-date messages and its monthly limit (nil: unlimited).
    var usage: @Sendable () -> [(app: String, used: UInt64, limit: UInt64?)] = { [] }
}

public import Hummingbird
public import Logging
public import SwitchboardCore

/// A wire protocol plugged into the edge: it owns its routes, its frames, its proofs of authorization
/// and its error codes, and talks only to the bus.
public protocol ProtocolAdapter: Sendable {
    /// The protocol's name in status pages and metrics: `jsonaction`, `sse`, `pusher`, `jwt`.
    var name: String { get }
    /// Adds the adapter's routes: plain HTTP ones on `http`, WebSocket upgrades on `webSocket`.
    func register(http: Router<SwitchboardContext>, webSocket: Router<SwitchboardContext>)
}

/// What every adapter is given: the bus, the gate, live connection counts and a logger.
public struct AdapterEnvironment: Sendable {
    /// The channel bus.
    public let bus: Bus
    /// App resolution, origin checks and security events.
    public let gate: Gate
    /// Open connections by protocol.
    public let connections: ConnectionCounter
    /// The edge's logger.
    public let logger: Logger
    /// Frames queued per connection before it is closed as too slow.
    public let maxQueuedFrames: Int
    /// Where WebSocket connections register the goodbye they send before the server shuts down.
    public let shutdown: ShutdownNotice
    /// Per-app permessage-deflate for WebSocket upgrades, and the deflater compressing sessions share.
    public var webSocketCompression = WebSocketCompression()
    /// What each client connection may spend (`[limits]`), whatever its protocol.
    public var clientLimits = ClientLimits()

    /// Creates an environment.
    public init(
        bus: Bus,
        gate: Gate,
        connections: ConnectionCounter,
        logger: Logger,
        maxQueuedFrames: Int = 4096,
        shutdown: ShutdownNotice = ShutdownNotice()
    ) {
        self.bus = bus
        self.gate = gate
        self.connections = connections
        self.logger = logger
        self.maxQueuedFrames = maxQueuedFrames
        self.shutdown = shutdown
    }
}

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
    /// The edge-wide `[limits]` in force (swapped by a SIGHUP reload): read at the point of use, never copied.
    public let limits: LiveLimits
    /// Where WebSocket connections register the goodbye they send before the server shuts down.
    public let shutdown: ShutdownNotice
    /// Per-app permessage-deflate for WebSocket upgrades, and the deflater compressing sessions share.
    public var webSocketCompression = WebSocketCompression()
    /// The deflater of `[limits] compression_min_bytes` when a reload changed it from `webSocketCompression`'s.
    let reloadedDeflater = ReloadedDeflater()

    /// Frames queued per connection before it is closed as too slow (`[limits] max_queued_frames`, as it is now).
    public var maxQueuedFrames: Int { self.limits.current.maxQueuedFrames }
    /// What each client connection may spend (`[limits]`, as it is now), whatever its protocol.
    public var clientLimits: ClientLimits { self.limits.current.client }

    /// Creates an environment with fixed limits: `maxQueuedFrames` and the other `[limits]` defaults.
    public init(
        bus: Bus,
        gate: Gate,
        connections: ConnectionCounter,
        logger: Logger,
        maxQueuedFrames: Int = 4096,
        shutdown: ShutdownNotice = ShutdownNotice()
    ) {
        self.init(
            bus: bus,
            gate: gate,
            connections: connections,
            logger: logger,
            limits: LiveLimits(.init(maxQueuedFrames: maxQueuedFrames)),
            shutdown: shutdown
        )
    }

    /// Creates an environment whose limits follow `limits` (the edge's, which a SIGHUP reload replaces).
    public init(
        bus: Bus,
        gate: Gate,
        connections: ConnectionCounter,
        logger: Logger,
        limits: LiveLimits,
        shutdown: ShutdownNotice = ShutdownNotice()
    ) {
        self.bus = bus
        self.gate = gate
        self.connections = connections
        self.logger = logger
        self.limits = limits
        self.shutdown = shutdown
    }
}

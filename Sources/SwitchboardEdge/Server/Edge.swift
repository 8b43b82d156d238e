import Foundation
public import Hummingbird
import HummingbirdWebSocket
import JSONAction
import JWT
public import Logging
import NIOCore
import Pusher
import SSE
import ServiceLifecycle
import SwitchboardAdapterKit
public import SwitchboardCore
import SwitchboardRedis
import SwitchboardStore
import UnixSignals

/// The whole edge assembled from a configuration: apps, engine, bus, store, adapters, routes and services.
///
/// ```swift
/// let edge = try Edge(config: ConfigLoader.load(path: "conf/switchboard.toml"), logger: logger)
/// try await edge.run()
/// ```
public struct Edge: Sendable {
    /// The release this binary reports.
    public static let version = "0.1.0"

    /// The configuration the edge was built from.
    public let config: SwitchboardConfig
    /// The channel bus.
    public let bus: Bus
    let store: SQLiteStore
    let securityWriter: SecurityEventWriter
    let environment: AdapterEnvironment
    let logger: Logger
    /// Delivers the apps' Pusher webhooks (a service of its own, so a slow endpoint never holds up the bus).
    let pusherWebhooks: PusherWebhooks
    /// The engine's connections (Redis), started before the server and stopped after it; nil for the memory engine.
    let engineService: (any Service)?

    /// Builds the edge; opens the store (creating it when needed).
    public init(config: SwitchboardConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let apps = AppRegistry(apps: config.apps, defaultAppID: config.defaultApp)
        let engine: any Engine
        if config.engine.kind == "redis" {
            // Connects in the background (see `application`); until it does, publishes are refused with 503.
            let configuration = RedisEngine.Configuration(
                url: try RedisURL(parsing: config.engine.url ?? "redis://127.0.0.1:6379/0"),
                prefix: config.engine.prefix,
                presenceTimeout: .seconds(config.limits.presenceTimeoutSeconds)
            )
            let redis = RedisEngine(configuration: configuration, logger: logger)
            engine = redis
            self.engineService = redis
        } else {
            engine = MemoryEngine()
            self.engineService = nil
        }
        self.bus = Bus(engine: engine, apps: apps, presenceTimeoutMilliseconds: Int64(config.limits.presenceTimeoutSeconds) * 1000)
        self.store = try SQLiteStore(path: config.store.path)
        self.securityWriter = SecurityEventWriter(store: self.store, logger: logger)
        let security = FanOutSecuritySink([self.securityWriter, LogSecuritySink(logger: logger)])
        self.environment = AdapterEnvironment(
            bus: self.bus,
            gate: Gate(apps: apps, security: security),
            connections: ConnectionCounter(),
            logger: logger,
            maxQueuedFrames: config.limits.maxQueuedFrames
        )
        self.pusherWebhooks = PusherWebhooks(apps: apps, logger: logger)
    }

    /// The adapters this edge mounts.
    var adapters: [any ProtocolAdapter] {
        [
            JSONActionAdapter(environment: self.environment),
            SSEAdapter(environment: self.environment, keepalive: .seconds(self.config.limits.sseKeepaliveSeconds)),
            PusherAdapter(environment: self.environment, webhooks: self.pusherWebhooks),
            JWTAdapter(environment: self.environment),
        ]
    }

    /// The HTTP application, not yet running; `onRunning` receives the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: SwitchboardContext.self)
        let webSocketRouter = Router(context: SwitchboardContext.self)
        for adapter in self.adapters { adapter.register(http: router, webSocket: webSocketRouter) }
        AdminRoutes(
            bus: self.bus,
            connections: self.environment.connections,
            store: self.store,
            authorized: AdminAuthorization(token: self.config.admin.token, gate: self.environment.gate),
            started: WallClock.milliseconds(),
            version: Self.version
        ).register(on: router)
        StaticFiles().register(on: router)
        var app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(ws: .init(maxFrameSize: 4 * 1024 * 1024, autoPing: .enabled(timePeriod: .seconds(30))))
            ),
            configuration: .init(address: .hostname(self.config.server.host, port: self.config.server.port), serverName: "switchboard"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
        // First in, last out: the engine is up before the server and outlives it during shutdown.
        if let engineService = self.engineService { app.addServices(engineService) }
        app.addServices(self.securityWriter, Janitor(bus: self.bus, interval: .seconds(5), logger: self.logger))
        app.addServices(self.pusherWebhooks)
        return app
    }

    /// Runs until SIGTERM or SIGINT, then drains: clients are told to reconnect, buffered events are written.
    ///
    /// The shutdown announcer is listed last so the group shuts it down first: WebSocket clients get their
    /// protocol's goodbye before the server's own shutdown closes them with a bare 1000.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    self.application(onRunning: onRunning),
                    ShutdownAnnouncer(notice: self.environment.shutdown, grace: .seconds(3)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: self.logger
            )
        )
        try await group.run()
    }
}

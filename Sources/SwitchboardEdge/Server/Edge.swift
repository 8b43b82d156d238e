import Foundation
public import Hummingbird
import HummingbirdWebSocket
import JSONAction
public import Logging
import NIOCore
import SSE
import ServiceLifecycle
import UnixSignals
import SwitchboardAdapterKit
public import SwitchboardCore
import SwitchboardStore

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

    /// Builds the edge; opens the store (creating it when needed).
    public init(config: SwitchboardConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let apps = AppRegistry(apps: config.apps, defaultAppID: config.defaultApp)
        let engine = MemoryEngine()
        self.bus = Bus(engine: engine, apps: apps, presenceTimeoutMilliseconds: Int64(config.limits.presenceTimeoutSeconds) * 1000)
        self.store = try SQLiteStore(path: config.store.path)
        self.securityWriter = SecurityEventWriter(store: self.store, logger: logger)
        let security = FanOutSecuritySink([self.securityWriter, LogSecuritySink(logger: logger)])
        self.environment = AdapterEnvironment(
            bus: self.bus, gate: Gate(apps: apps, security: security), connections: ConnectionCounter(), logger: logger,
            maxQueuedFrames: config.limits.maxQueuedFrames)
    }

    /// The adapters this edge mounts.
    var adapters: [any ProtocolAdapter] {
        [
            JSONActionAdapter(environment: self.environment),
            SSEAdapter(environment: self.environment, keepalive: .seconds(self.config.limits.sseKeepaliveSeconds)),
        ]
    }

    /// The HTTP application, not yet running; `onRunning` receives the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: SwitchboardContext.self)
        let webSocketRouter = Router(context: SwitchboardContext.self)
        for adapter in self.adapters { adapter.register(http: router, webSocket: webSocketRouter) }
        AdminRoutes(
            bus: self.bus, connections: self.environment.connections, store: self.store, adminToken: self.config.admin.token,
            gate: self.environment.gate, started: WallClock.milliseconds(), version: Self.version
        ).register(on: router)
        StaticFiles().register(on: router)
        var app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(ws: .init(maxFrameSize: 4 * 1024 * 1024, autoPing: .enabled(timePeriod: .seconds(30))))),
            configuration: .init(address: .hostname(self.config.server.host, port: self.config.server.port), serverName: "switchboard"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
        app.addServices(self.securityWriter, Janitor(bus: self.bus, interval: .seconds(5), logger: self.logger))
        return app
    }

    /// Runs until SIGTERM or SIGINT, then drains: clients are told to reconnect, buffered events are written.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await self.application(onRunning: onRunning).runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

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
    /// The `Server` header of every response.
    static let serverName = "switchboard"

    /// The configuration the edge was built from.
    public let config: SwitchboardConfig
    /// The channel bus.
    public let bus: Bus
    let store: SQLiteStore
    /// Apps, keys and origins as the admin API edits them, kept in the store and pushed into the running registry.
    let controlPlane: ControlPlane
    let securityWriter: SecurityEventWriter
    let environment: AdapterEnvironment
    let logger: Logger
    /// Delivers the apps' Pusher webhooks (a service of its own, so a slow endpoint never holds up the bus).
    let pusherWebhooks: PusherWebhooks
    /// The reverse proxy's HTTP client (a service, shut down with the edge).
    let proxyClient: ProxyClient
    /// What `GET /metrics` reports.
    let metrics: EdgeMetrics
    /// The engine's connections (Redis) or the memory engine's history journal, started before the server and stopped after it.
    let engineService: (any Service)?
    /// The `[[listeners]]` served besides `[server]`, their certificates loaded.
    let listeners: [EdgeListener]
    /// Usage per app and day, kept in the store (or summed in Redis); `monthlyUsage()` feeds quotas' alerts.
    public let usage: UsageMeter
    /// What SIGHUP does besides the TLS certificates: re-read the config and apply it (nil when built in code).
    let configReload: ConfigReload?
    /// With Redis, carries admin changes of channel rules and webhooks to every node.
    let liveSync: LiveSettingsSync?
    /// Alert rules, their evaluator (one task) and their webhook delivery (Alerts/).
    let alerts: AlertCenter
    /// `[server] trusted_proxies` in force: read per request and per accepted connection, replaced by SIGHUP.
    let trustedProxies: LiveSetting<TrustedProxies>
    /// `[server] blocked_addresses` and the admin API's blocks: read per accepted connection and per request.
    let addressBlocks: AddressBlocks
    /// `[admin]` in force (the token and `public_metrics`), replaced by SIGHUP.
    let admin: LiveSetting<SwitchboardConfig.Admin>
    /// `[proxy] upstream` in force, parsed: read per proxied request, replaced by SIGHUP.
    let proxyUpstream: LiveSetting<ProxyUpstream?>

    /// Builds the edge; opens the store (creating it when needed).
    public init(config: SwitchboardConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.listeners = try EdgeListener.load(config.listeners)
        self.trustedProxies = LiveSetting(config.server.trustedProxies)
        self.admin = LiveSetting(config.admin)
        self.proxyUpstream = LiveSetting(config.proxy.upstream.flatMap(ProxyUpstream.init))
        // The control plane fills the registry from the store (seeded from `[[apps]]`), below.
        let apps = AppRegistry(apps: [], defaultAppID: config.defaultApp)
        self.store = try SQLiteStore(path: config.store.path)
        // One holder of `[limits]` for the bus, the gate, the security sink, the adapters and every connection's budget;
        // SIGHUP swaps it.
        let limits = LiveLimits(config.limits.live)
        let engine: any Engine
        if config.engine.kind == "redis" {
            // Connects in the background (see `application`); until it does, publishes are refused with 503.
            var configuration = RedisEngine.Configuration(
                url: try RedisURL(parsing: config.engine.url ?? "redis://127.0.0.1:6379/0"),
                prefix: config.engine.prefix,
                presenceTimeout: .seconds(config.limits.presenceTimeoutSeconds)
            )
            configuration.presenceTimeoutFrom = { .seconds(limits.current.presenceTimeoutSeconds) }
            configuration.maxHistoryBytes = limits.reader { $0.maxHistoryMegabytes << 20 }
            configuration.connection.tlsCAFile = config.engine.tlsCAFile
            configuration.connection.commandTimeout = .milliseconds(config.engine.commandTimeoutMilliseconds)
            let redis = RedisEngine(configuration: configuration, logger: logger)
            engine = redis
            self.engineService = redis
        } else {
            (engine, self.engineService) = try DurableHistory.memoryEngine(config: config, store: self.store, limits: limits, logger: logger)
        }
        self.bus = Bus(
            engine: engine,
            apps: apps,
            limits: limits,
            pacer: PublishPacer(backlog: LoopWriteBacklog()) { .milliseconds(limits.current.publishLagMilliseconds) }
        )
        let departures = ShutdownNotice()
        self.addressBlocks = try AddressBlocks(configured: config.server.blockedAddresses, farewells: departures, store: self.store, logger: logger)
        self.controlPlane = try ControlPlane.open(store: self.store, registry: apps, config: config, departures: departures, logger: logger)
        let connections = ConnectionCounter(uncounted: config.limits.uncountedAddresses)
        self.metrics = EdgeMetrics(bus: self.bus, connections: connections)
        let usageLedger: any UsageLedger = (engine as? RedisEngine).map { RedisUsageLedger(engine: $0) } ?? self.store
        self.usage = UsageMeter(bus: self.bus, ledger: usageLedger, metrics: UsageMetrics(registry: self.metrics.registry), logger: logger)
        if usageLedger is SQLiteStore { try self.usage.preload(from: self.store) }
        self.securityWriter = SecurityEventWriter(
            store: self.store,
            retain: config.store.securityEventMaxRows,
            maxAgeMilliseconds: config.store.securityEventRetentionMilliseconds,
            logger: logger,
            onDrop: Self.countQueueDrops(self.metrics)
        )
        self.bus.observers.register(FanOutTimer(metrics: self.metrics), name: "metrics")
        let alertCounter = AlertSecurityCounter()
        let recorded = FanOutSecuritySink([
            Self.securitySink(writer: self.securityWriter, metrics: self.metrics, limits: limits, logger: logger), alertCounter,
        ])
        let automaticBlocks = AutomaticBlocks(
            limits: limits,
            blocks: self.addressBlocks,
            uncounted: connections.uncounted,
            trusted: self.trustedProxies,
            events: recorded,
            logger: logger,
            metrics: self.metrics
        )
        let security = FanOutSecuritySink([recorded, automaticBlocks])
        var environment = AdapterEnvironment(
            bus: self.bus,
            gate: Gate(apps: apps, security: security, limits: limits),
            connections: connections,
            logger: logger,
            limits: limits,
            shutdown: departures
        )
        environment.webSocketCompression = WebSocketCompression(minBytes: config.limits.compressionMinBytes)
        self.environment = environment
        // With several nodes, occupied/vacated webhooks follow the whole cluster's subscribers, not this node's.
        let bus = self.bus
        let otherNodes: @Sendable (String, String) async -> Int = { app, channel in
            (try? await bus.otherNodesCount(app: app, channel: channel)) ?? 0
        }
        self.pusherWebhooks = PusherWebhooks(apps: apps, otherNodes: config.engine.kind == "redis" ? otherNodes : nil, logger: logger)
        self.alerts = try Self.alertCenter(
            config: config,
            store: self.store,
            counter: alertCounter,
            bus: self.bus,
            connections: connections,
            usage: self.usage,
            metrics: self.metrics,
            logger: logger
        )
        (self.configReload, self.liveSync) = Self.liveConfiguration(
            config: config,
            controlPlane: self.controlPlane,
            live: LiveEdgeSettings(
                limits: limits,
                trustedProxies: self.trustedProxies,
                blocks: self.addressBlocks,
                uncounted: connections.uncounted,
                admin: self.admin,
                proxyUpstream: self.proxyUpstream
            ),
            alerts: self.alerts,
            metrics: self.metrics,
            logger: logger
        )
        automaticBlocks.share(through: self.liveSync)
        self.proxyClient = ProxyClient(
            connectTimeoutMilliseconds: config.proxy.connectTimeoutMilliseconds,
            readTimeoutMilliseconds: config.proxy.readTimeoutMilliseconds
        )
    }

    /// The adapters this edge mounts.
    var adapters: [any ProtocolAdapter] {
        [
            JSONActionAdapter(environment: self.environment),
            SSEAdapter(environment: self.environment),
            PusherAdapter(environment: self.environment, webhooks: self.pusherWebhooks),
            JWTAdapter(environment: self.environment),
        ]
    }

    /// The WebSocket settings of every listener: frames up to 4 MB (and the app's message size plus 64 KB, checked from
    /// each frame's header), at most 1,000 frames a second, pings every 30 s, and 3 s for a client to answer the server's close before
    /// its socket is closed. permessage-deflate is agreed per app by the routes (`WebSocketCompression`). SSE streams
    /// over HTTP/1.1 are written from the event loop too (`EventStreamClaim`).
    var webSocketConfiguration: EdgeWebSocketChannel.Configuration {
        var connection = WebSocketConnectionHandler.Configuration()
        connection.writeBatch.limits = self.environment.limits
        var configuration = EdgeWebSocketChannel.Configuration(maxFrameSize: 4 * 1024 * 1024, connection: connection)
        configuration.eventStreamPaths = [SSEAdapter.path]
        return configuration
    }

    /// The HTTP application, not yet running; `onRunning` receives the `[server]` port, `onListening` each `[[listeners]]` entry.
    public func application(
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onListening: @escaping @Sendable (BoundListener) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: SwitchboardContext.self)
        let webSocketRouter = Router(context: SwitchboardContext.self)
        // First on both routers, so every route below reads the client's address through `[server] trusted_proxies`.
        router.add(middleware: TrustedProxiesMiddleware(trusted: self.trustedProxies))
        webSocketRouter.add(middleware: TrustedProxiesMiddleware(trusted: self.trustedProxies))
        // Next, once the client is known: a trusted proxy's request for a blocked client goes no further.
        let blocked = BlockedAddressesMiddleware(blocked: self.addressBlocks.effective, gate: self.environment.gate)
        router.add(middleware: blocked)
        webSocketRouter.add(middleware: blocked)
        // Before the routes, so it times every HTTP request (HTTPMetrics.swift).
        router.add(middleware: HTTPMetricsMiddleware(metrics: self.metrics.operations.http))
        router.add(middleware: UpgradeRequiredHeaders())
        for adapter in self.adapters { adapter.register(http: router, webSocket: webSocketRouter) }
        // One instance for every admin route, so wrong-token counts and lockouts are shared by the console's routes too.
        let adminAuthorization = AdminAuthorization(
            admin: self.admin,
            gate: self.environment.gate
        )
        AdminRoutes(
            bus: self.bus,
            connections: self.environment.connections,
            store: self.store,
            securityWriter: self.securityWriter,
            controlPlane: self.controlPlane,
            authorized: adminAuthorization,
            started: WallClock.milliseconds(),
            version: Self.version,
            workspacePlan: self.config.workspacePlan ?? self.config.apps.first { $0.id == self.config.defaultApp }?.plan.name ?? "free",
            usage: self.usage,
            sync: self.liveSync
        ).register(on: router)
        UsageRoutes(meter: self.usage, authorized: adminAuthorization).register(on: router)
        AlertRoutes(alerts: self.alerts, authorized: adminAuthorization).register(on: router)
        LiveConfigRoutes(controlPlane: self.controlPlane, authorized: adminAuthorization, sync: self.liveSync).register(on: router)
        AddressBlockRoutes(blocks: self.addressBlocks, authorized: adminAuthorization, sync: self.liveSync).register(on: router)
        ConsoleDebugRoutes(
            environment: self.environment,
            authorized: adminAuthorization,
            keepalive: .seconds(self.config.limits.sseKeepaliveSeconds)
        ).register(on: router)
        StaticFiles().register(on: router)
        SDKFiles(root: self.config.server.sdkDir).register(on: router)
        ProbeRoutes(bus: self.bus, shutdown: self.environment.shutdown, version: Self.version).register(on: router)
        MetricsRoute(metrics: self.metrics, authorized: adminAuthorization, admin: self.admin).register(on: router)
        // Keep last: a router middleware wraps only routes added after it and the not-found path, so the proxy
        // sees exactly the requests no route above (nor any WebSocket route) claims.
        router.add(
            middleware: ReverseProxy(
                gate: self.environment.gate,
                fallbackUpstream: self.proxyUpstream,
                client: self.proxyClient,
                logger: self.logger
            )
        )
        var app = Application(
            router: router,
            server: .http1GuardedWebSocket(
                webSocketRouter: webSocketRouter,
                streamRouter: router,
                configuration: self.webSocketConfiguration,
                admission: self.socketAdmission,
                unmasked: self.unmaskedFrameReport
            ),
            configuration: .init(address: .hostname(self.config.server.host, port: self.config.server.port), serverName: Self.serverName),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
        // First in, last out: the engine is up before the server and outlives it during shutdown.
        if let engineService = self.engineService { app.addServices(engineService) }
        // After the engine, so the last usage flush at shutdown still reaches Redis.
        app.addServices(self.usage)
        if let liveSync = self.liveSync { app.addServices(liveSync) }
        app.addServices(self.securityWriter, self.addressBlocks, Janitor(bus: self.bus, interval: .seconds(5), logger: self.logger))
        app.addServices(self.pusherWebhooks, self.proxyClient, self.alerts.delivery, self.alerts)
        // Listed after the edge's own services, so their connections close before those services stop.
        app.addServices(self.listenerServices(router: router, webSocketRouter: webSocketRouter, onListening: onListening))
        return app
    }

    /// Runs until SIGTERM or SIGINT, then drains: clients are told to reconnect, buffered events are written.
    ///
    /// The shutdown announcer is listed last so the group shuts it down first: WebSocket clients get their
    /// protocol's goodbye before the server's own shutdown closes them with a bare 1000.
    public func run(
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onListening: @escaping @Sendable (BoundListener) async -> Void = { _ in }
    ) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    self.application(onRunning: onRunning, onListening: onListening),
                    ShutdownAnnouncer(notice: self.environment.shutdown, grace: .seconds(3)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: self.logger
            )
        )
        try await group.run()
    }
}

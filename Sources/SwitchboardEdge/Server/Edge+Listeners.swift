import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import SwitchboardAdapterKit

/// A `[[listeners]]` entry ready to serve: its settings and, for TLS, its reloadable certificate.
struct EdgeListener: Sendable {
    let config: ListenerConfig
    let tls: ReloadableTLSContext?

    /// Loads every listener's certificate now, so a bad file stops start-up with the key that names it.
    static func load(_ configs: [ListenerConfig]) throws(ConfigError) -> [EdgeListener] {
        var listeners: [EdgeListener] = []
        for (index, config) in configs.enumerated() {
            var tls: ReloadableTLSContext?
            if let files = config.tls {
                do {
                    tls = try ReloadableTLSContext(certPath: files.cert, keyPath: files.key)
                } catch {
                    throw ConfigError(key: "listeners[\(index)].tls.\(error.file.rawValue)", problem: error.description)
                }
            }
            listeners.append(EdgeListener(config: config, tls: tls))
        }
        return listeners
    }
}

extension Edge {
    /// One server per `[[listeners]]` entry on the same routers as `[server]`, plus the SIGHUP reloader (certificates, config).
    func listenerServices(
        router: Router<SwitchboardContext>,
        webSocketRouter: Router<SwitchboardContext>,
        onListening: @escaping @Sendable (BoundListener) async -> Void
    ) -> [any Service] {
        var services: [any Service] = []
        for listener in self.listeners {
            let server: HTTPServerBuilder
            let protocols: [String]
            if let tls = listener.tls {
                server = .tlsHTTP2AndWebSocket(
                    tls: tls,
                    webSocketRouter: webSocketRouter,
                    streamRouter: router,
                    configuration: self.webSocketConfiguration,
                    admission: self.socketAdmission,
                    unmasked: self.unmaskedFrameReport,
                    h2Flood: self.h2FloodReport
                )
                protocols = ReloadableTLSContext.applicationProtocols
            } else {
                server = .http1GuardedWebSocket(
                    webSocketRouter: webSocketRouter,
                    streamRouter: router,
                    configuration: self.webSocketConfiguration,
                    admission: self.socketAdmission,
                    unmasked: self.unmaskedFrameReport
                )
                protocols = ["http/1.1"]
            }
            let host = listener.config.address
            let secure = listener.tls != nil
            services.append(
                Application(
                    router: router,
                    server: server,
                    configuration: .init(address: .hostname(host, port: listener.config.port), serverName: Self.serverName),
                    onServerRunning: { channel in
                        await onListening(BoundListener(secure: secure, host: host, port: channel.localAddress?.port ?? 0, protocols: protocols))
                    },
                    logger: self.logger
                )
            )
        }
        let contexts = self.listeners.compactMap(\.tls)
        if !contexts.isEmpty || self.configReload != nil {
            services.append(ConfigReloader(contexts: contexts, config: self.configReload, logger: self.logger))
        }
        return services
    }
}

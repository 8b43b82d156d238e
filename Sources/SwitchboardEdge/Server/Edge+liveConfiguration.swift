import Logging
import SwitchboardCore
import SwitchboardRedis

extension Edge {
    /// The SIGHUP config reload (when the config came from a file or the environment) and, with Redis, the service
    /// that carries admin changes of channel rules and webhooks to every node.
    ///
    /// A reload first checks the new admin token against the addresses the edge listens on (`AdminTokenPolicy`), then
    /// applies the apps (the other step that can still refuse the file), then swaps the live settings and the
    /// `[[alerts]]` rules.
    static func liveConfiguration(
        config: SwitchboardConfig,
        controlPlane: ControlPlane,
        live: LiveEdgeSettings,
        alerts: AlertCenter,
        metrics: EdgeMetrics,
        logger: Logger
    ) -> (ConfigReload?, LiveSettingsSync?) {
        let reload = config.source.map { source in
            ConfigReload(source: source, started: config, metrics: ConfigReloadMetrics(registry: metrics.registry), logger: logger) { new in
                if let refusal = LiveEdgeSettings.refusal(of: new, running: config) { throw refusal }
                try controlPlane.reload(new, logger: logger)
                for section in live.replace(with: new) { logger.notice("SIGHUP: applied", metadata: ["section": "\(section)"]) }
                alerts.replaceConfigured(new.alerts)
            }
        }
        let sync = (metrics.bus.engine as? RedisEngine).map { engine in
            LiveSettingsSync(engine: engine, controlPlane: controlPlane, blocks: live.blocks, logger: logger)
        }
        return (reload, sync)
    }
}

import Logging
import SwitchboardCore
import SwitchboardRedis

extension Edge {
    /// The SIGHUP config reload (when the config came from a file or the environment) and, with Redis, the service
    /// that carries admin changes of channel rules and webhooks to every node.
    ///
    /// A reload applies the apps first (the step that can still refuse the file), then swaps `[limits]` into `limits`
    /// and the `[[alerts]]` rules into `alerts`.
    static func liveConfiguration(
        config: SwitchboardConfig,
        controlPlane: ControlPlane,
        limits: LiveLimits,
        alerts: AlertCenter,
        metrics: EdgeMetrics,
        logger: Logger
    ) -> (ConfigReload?, LiveSettingsSync?) {
        let reload = config.source.map { source in
            ConfigReload(source: source, started: config, metrics: ConfigReloadMetrics(registry: metrics.registry), logger: logger) { config in
                try controlPlane.reload(config, logger: logger)
                if limits.replace(config.limits.live) { logger.notice("SIGHUP: [limits] applied") }
                alerts.replaceConfigured(config.alerts)
            }
        }
        let sync = (metrics.bus.engine as? RedisEngine).map { engine in
            LiveSettingsSync(engine: engine, controlPlane: controlPlane, logger: logger)
        }
        return (reload, sync)
    }
}

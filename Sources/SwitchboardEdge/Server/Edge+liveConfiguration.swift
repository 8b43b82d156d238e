import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardRedis

/// The settings a SIGHUP replaces in place: every reader holds these, not a copy of the config.
struct LiveEdgeSettings: Sendable {
    /// `[limits]`, but for `uncounted_addresses`.
    let limits: LiveLimits
    /// `[server] trusted_proxies`.
    let trustedProxies: LiveSetting<TrustedProxies>
    /// `[limits] uncounted_addresses`.
    let uncounted: LiveSetting<AddressRanges>
    /// `[admin]` (its token and `public_metrics`; `auth_failures_per_minute` is read at start).
    let admin: LiveSetting<SwitchboardConfig.Admin>

    /// Why `new` may not be applied to an edge started as `running`: its admin token is unfit for the addresses the
    /// edge listens on (`AdminTokenPolicy`), which are `running`'s (`--host` included), as a reload does not move them.
    static func refusal(of new: SwitchboardConfig, running: SwitchboardConfig) -> ConfigError? {
        var served = new
        served.server.host = running.server.host
        served.listeners = running.listeners
        return AdminTokenPolicy.unfit(served).map { ConfigError(key: "admin.token", problem: $0) }
    }

    /// Puts `config`'s live settings in force; returns the names of those that changed.
    func replace(with config: SwitchboardConfig) -> [String] {
        var changed: [String] = []
        if self.limits.replace(config.limits.live) { changed.append("[limits]") }
        if self.uncounted.replace(config.limits.uncountedAddresses) { changed.append("[limits] uncounted_addresses") }
        if self.trustedProxies.replace(config.server.trustedProxies) { changed.append("[server] trusted_proxies") }
        if self.admin.replace(config.admin) { changed.append("[admin]") }
        return changed
    }
}

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
            LiveSettingsSync(engine: engine, controlPlane: controlPlane, logger: logger)
        }
        return (reload, sync)
    }
}

import SwitchboardAdapterKit
import SwitchboardCore

/// The settings a SIGHUP replaces in place: every reader holds these, not a copy of the config.
struct LiveEdgeSettings: Sendable {
    /// `[limits]`, but for `uncounted_addresses`.
    let limits: LiveLimits
    /// `[server] trusted_proxies`.
    let trustedProxies: LiveSetting<TrustedProxies>
    /// `[server] blocked_addresses`, in force beside the admin API's blocks.
    let blocks: AddressBlocks
    /// `[limits] uncounted_addresses`.
    let uncounted: LiveSetting<AddressRanges>
    /// `[admin]` (its token and `public_metrics`; `auth_failures_per_minute` is read at start).
    let admin: LiveSetting<SwitchboardConfig.Admin>
    /// `[proxy] upstream`, parsed (the timeouts are read at start).
    let proxyUpstream: LiveSetting<ProxyUpstream?>

    /// Why `new` may not be applied to an edge started as `running`: its admin token is unfit for the addresses the
    /// edge listens on (`AdminTokenPolicy`), which are `running`'s (`--host` included), as a reload does not move them.
    static func refusal(of new: SwitchboardConfig, running: SwitchboardConfig) -> ConfigError? {
        var served = new
        served.server.host = running.server.host
        served.listeners = running.listeners
        return AdminTokenPolicy.unfit(served).map { ConfigError(key: "admin.token", problem: $0) }
    }

    /// `config` with the keys a reload applies in place (`replace(with:)`) at their defaults, so what is left differs
    /// only where a restart is needed (`ConfigReload.restartNeeded`).
    static func withoutLiveKeys(_ config: SwitchboardConfig) -> SwitchboardConfig {
        var kept = config
        kept.server.trustedProxies = TrustedProxies()
        kept.server.blockedAddresses = AddressRanges()
        kept.limits.uncountedAddresses = AddressRanges.loopback
        kept.admin.token = nil
        kept.admin.publicMetrics = false
        kept.proxy.upstream = nil
        return kept
    }

    /// Puts `config`'s live settings in force; returns the names of those that changed.
    func replace(with config: SwitchboardConfig) -> [String] {
        var changed: [String] = []
        if self.limits.replace(config.limits.live) { changed.append("[limits]") }
        if self.uncounted.replace(config.limits.uncountedAddresses) { changed.append("[limits] uncounted_addresses") }
        if self.trustedProxies.replace(config.server.trustedProxies) { changed.append("[server] trusted_proxies") }
        // New connections are refused from now on; those already open from a blocked address end too.
        if self.blocks.replaceConfigured(config.server.blockedAddresses) { changed.append("[server] blocked_addresses") }
        if self.admin.replace(config.admin) { changed.append("[admin]") }
        if self.proxyUpstream.replace(config.proxy.upstream.flatMap(ProxyUpstream.init)) { changed.append("[proxy] upstream") }
        return changed
    }
}

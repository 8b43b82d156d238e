import Logging
import SwitchboardCore
import Synchronization

/// One SIGHUP's work without the signal: read the config again, refuse it whole when it is bad, apply what can change
/// while running and warn about what needs a restart.
///
/// Applied live: `[[apps]]` (new apps; channel rules, webhooks, presence and client-event settings of every app),
/// `[plans.*]`, `[limits]` (`LiveLimits`, and `uncounted_addresses`), `[server] trusted_proxies`, `[admin] token` and
/// `public_metrics`, `[proxy] upstream` (`LiveEdgeSettings`) and `[[alerts]]` (the config's rules; the admin API's
/// stay). Needing a restart (a warning names each): `default_app`, the rest of `[server]`, `[admin]` and `[proxy]`,
/// `[engine]`, `[store]`, `[[listeners]]` (their TLS certificates are re-read by the same SIGHUP) and `workspace_plan`.
final class ConfigReload: Sendable {
    /// What one reload did.
    enum Outcome: Equatable {
        /// Applied; the sections listed differ from the running ones and wait for a restart.
        case applied(restartNeeded: [String])
        /// Refused: the old config stays in force.
        case failed(String)
    }

    let source: ConfigSource
    /// The config as its source said at start (before command-line overrides such as `--port`): the sections only a
    /// restart applies are compared with it, so only edits of the file or environment are reported.
    let started: SwitchboardConfig
    let apply: @Sendable (SwitchboardConfig) throws -> Void
    let metrics: ConfigReloadMetrics?
    let logger: Logger

    init(
        source: ConfigSource,
        started: SwitchboardConfig,
        metrics: ConfigReloadMetrics?,
        logger: Logger,
        apply: @escaping @Sendable (SwitchboardConfig) throws -> Void
    ) {
        self.source = source
        self.started = (try? source.load()) ?? started
        self.metrics = metrics
        self.logger = logger
        self.apply = apply
    }

    /// Reads, checks and applies the config; logs and counts the outcome.
    @discardableResult
    func perform() -> Outcome {
        let config: SwitchboardConfig
        do {
            config = try self.source.load()
            try self.apply(config)
        } catch {
            self.metrics?.failed()
            let file = self.source.path ?? "the environment"
            self.logger.error("SIGHUP: the config was not reloaded; the running config stays", metadata: ["file": "\(file)", "error": "\(error)"])
            return .failed("\(error)")
        }
        self.metrics?.succeeded()
        let restart = Self.restartNeeded(running: self.started, new: config)
        for section in restart {
            self.logger.warning("SIGHUP: this part of the config changed but applies only after a restart", metadata: ["section": "\(section)"])
        }
        self.logger.notice(
            "SIGHUP: config reloaded (apps, channel rules, webhooks, plans, limits, trusted proxies, admin token, proxy upstream, alerts)",
            metadata: ["apps": "\(config.apps.count)", "restart_needed": "\(restart.joined(separator: ", "))"]
        )
        return .applied(restartNeeded: restart)
    }

    /// The sections of `new` that differ from `running` and that only a restart applies.
    static func restartNeeded(running: SwitchboardConfig, new: SwitchboardConfig) -> [String] {
        // The keys `LiveEdgeSettings` applies in place are left out of the sections compared.
        let (running, new) = (LiveEdgeSettings.withoutLiveKeys(running), LiveEdgeSettings.withoutLiveKeys(new))
        var sections: [String] = []
        func compare<T>(_ name: String, _ value: (SwitchboardConfig) -> T) {
            if String(reflecting: value(running)) != String(reflecting: value(new)) { sections.append(name) }
        }
        compare("default_app") { $0.defaultApp }
        compare("server") { $0.server }
        compare("engine") { $0.engine }
        compare("store") { $0.store }
        compare("admin") { $0.admin }
        compare("proxy") { $0.proxy }
        compare("listeners") { $0.listeners }
        compare("workspace_plan") { $0.workspacePlan }
        return sections
    }
}

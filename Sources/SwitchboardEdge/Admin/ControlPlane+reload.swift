import Logging
import SwitchboardCore
import SwitchboardStore
import Synchronization

extension ControlPlane {
    /// Takes a re-read config file: its new apps join the store, its plans and config-only app settings (channel rules,
    /// webhooks, presence and client-event limits) replace the old ones, and every app is published again, so open
    /// connections apply them from their next action on. Apps already stored keep their stored fields, as at start.
    ///
    /// Checked before anything changes: a new app whose key another stored app holds fails the whole reload.
    func reload(_ config: SwitchboardConfig, logger: Logger) throws {
        try self.changes.withLock { _ in
            let stored = try self.store.apps()
            for app in config.apps where !stored.contains(where: { $0.id == app.id }) {
                if let holder = stored.first(where: { $0.key == app.key }) {
                    throw ConfigError(key: "apps", problem: "app \(app.id) has key \(app.key), which stored app \(holder.id) holds")
                }
            }
            try self.seed(config.apps, logger: logger)
            self.configuration.withLock { $0 = Configured(config) }
            for app in try self.store.apps() { try self.publish(app.id) }
        }
        self.logLiveOverrides(config.apps, logger: logger)
    }
}

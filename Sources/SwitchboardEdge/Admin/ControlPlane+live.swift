import Logging
import SwitchboardCore
import SwitchboardStore
import Synchronization

extension ControlPlane {
    /// Where an app's channel rules or webhooks come from now.
    enum SettingSource: String {
        case admin, config
    }

    /// The app's channel rules as connections apply them, and whether the admin API or the config set them; 404 for an
    /// unknown app.
    func channelRules(app id: String) throws -> (rules: [ChannelRule], source: SettingSource) {
        _ = try self.app(id)
        let live = self.live.settings(app: id)?.channelRules
        let rules = self.registry.app(id: id)?.channelRules ?? live ?? self.configured[id]?.channelRules ?? []
        return (rules, live == nil ? .config : .admin)
    }

    /// The app's webhooks as they are sent (nil: none), and whether the admin API or the config set them.
    func webhooks(app id: String) throws -> (settings: WebhookSettings?, source: SettingSource) {
        _ = try self.app(id)
        let live = self.live.settings(app: id)?.webhooks
        return (self.registry.app(id: id)?.webhooks, live == nil ? .config : .admin)
    }

    /// The app's live settings after `edit`, not yet applied (the cluster shares them first); 404 for an unknown app.
    func liveSettings(app id: String, after edit: (inout LiveAppSettings) -> Void) throws -> LiveAppSettings {
        _ = try self.app(id)
        var settings = self.live.settings(app: id) ?? LiveAppSettings()
        edit(&settings)
        return settings
    }

    /// Stores `settings` as the app's live settings and publishes the app, so open connections apply them from their next
    /// action on. An app this node does not know keeps them for when it appears. Returns whether anything changed.
    @discardableResult
    func applyLive(_ settings: LiveAppSettings, app id: String) throws -> Bool {
        try self.changes.withLock { _ in
            guard try self.live.set(settings, app: id) else { return false }
            if try self.store.app(id: id) != nil { try self.publish(id) }
            return true
        }
    }

    /// Warns, for each config app whose rules or webhooks the admin API replaced, that the stored ones are used.
    func logLiveOverrides(_ apps: [App], logger: Logger) {
        for app in apps {
            guard let live = self.live.settings(app: app.id) else { continue }
            var fields: [String] = []
            if let rules = live.channelRules, rules != app.channelRules.map(Self.withoutKit) { fields.append("channel_rules") }
            if let webhooks = live.webhooks, webhooks != app.webhooks.map(LiveAppSettings.Webhooks.on) ?? .off { fields.append("webhooks") }
            guard !fields.isEmpty else { continue }
            logger.warning(
                "the config differs from what the admin API set for this app; the admin API's values are used (DELETE them to use the config's)",
                metadata: ["app": "\(app.id)", "fields": "\(fields.joined(separator: ", "))"]
            )
        }
    }

    static func withoutKit(_ rule: ChannelRule) -> ChannelRule {
        var rule = rule
        rule.kit = nil
        return rule
    }
}

import Logging
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The live settings of every app (LiveAppSettings.swift): kept in memory for `ControlPlane.merged`, written through to
/// the store so they outlive restarts.
final class LiveSettingsStore: Sendable {
    private let store: SQLiteStore?
    private let current: Mutex<[String: LiveAppSettings]>

    /// Loads what `store` holds; a stored document that no longer reads is logged and ignored (the config applies).
    init(store: SQLiteStore?, logger: Logger) throws {
        self.store = store
        var current: [String: LiveAppSettings] = [:]
        for (app, document) in try store?.liveSettingsDocuments() ?? [:] {
            do {
                current[app] = try LiveAppSettings(document: document)
            } catch {
                logger.error("ignoring unreadable stored channel rules and webhooks", metadata: ["app": "\(app)", "error": "\(error)"])
            }
        }
        self.current = Mutex(current)
    }

    /// The app's live settings, if the admin API set any.
    func settings(app: String) -> LiveAppSettings? { self.current.withLock { $0[app] } }

    /// Every app's live settings.
    var all: [String: LiveAppSettings] { self.current.withLock { $0 } }

    /// Stores `settings` for `app` (empty settings remove them); returns whether anything changed.
    @discardableResult
    func set(_ settings: LiveAppSettings, app: String) throws -> Bool {
        let before = self.settings(app: app) ?? LiveAppSettings()
        guard before != settings else { return false }
        try self.store?.setLiveSettingsDocument(settings.isEmpty ? nil : settings.document, app: app, now: WallClock.milliseconds())
        self.current.withLock { $0[app] = settings.isEmpty ? nil : settings }
        return true
    }
}

import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The apps as the admin API edits them: the store's fields and keys merged with the settings only the config holds,
/// pushed into the running `AppRegistry` after every change so it takes effect at once.
///
/// At start, each `[[apps]]` entry whose id the store lacks is inserted with its configured secrets; an app already
/// stored keeps its stored fields and keys (admin edits outlive restarts). Channel rules, webhooks, presence and
/// client-event limits come from the config by app id, unless the admin API set the app's channel rules or webhooks
/// (`live`, ControlPlane+live.swift). SIGHUP swaps the config's part (ControlPlane+reload.swift).
final class ControlPlane: Sendable {
    /// The part of the config the control plane merges in; replaced whole when the file is re-read.
    struct Configured: Sendable {
        /// Plans by name (the built-in ones and `[plans.NAME]`).
        var plans: [String: Plan]
        /// Config apps by id, for the settings the store does not keep.
        var apps: [String: App]

        init(_ config: SwitchboardConfig) {
            self.plans = config.plans
            self.apps = Dictionary(config.apps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let store: ControlPlaneStore
    let registry: AppRegistry
    let configuration: Mutex<Configured>
    /// Channel rules and webhooks set through the admin API; they win over the config's.
    let live: LiveSettingsStore
    /// Plans by name (the built-in ones and `[plans.NAME]`).
    var plans: [String: Plan] { self.configuration.withLock { $0.plans } }
    /// Config apps by id, for the settings the store does not keep.
    var configured: [String: App] { self.configuration.withLock { $0.apps } }
    /// Serializes change-then-publish, so two admin changes never reach the registry out of order.
    let changes = Mutex(())
    /// Where open connections of an app that gets disabled are sent away.
    let departures: ShutdownNotice?

    /// Seeds the store from `config` and fills `registry` with the merged apps.
    init(
        store: ControlPlaneStore,
        registry: AppRegistry,
        config: SwitchboardConfig,
        departures: ShutdownNotice? = nil,
        live: LiveSettingsStore? = nil,
        logger: Logger
    ) throws {
        self.store = store
        self.registry = registry
        self.departures = departures
        self.configuration = Mutex(Configured(config))
        self.live = try live ?? LiveSettingsStore(store: nil, logger: logger)
        try self.seed(config.apps, logger: logger)
        self.logLiveOverrides(config.apps, logger: logger)
        var apps: [App] = []
        for stored in try store.apps() {
            if self.plans[stored.plan] == nil {
                logger.warning("stored app has an unknown plan; using free", metadata: ["app": "\(stored.id)", "plan": "\(stored.plan)"])
            }
            apps.append(self.merged(stored, secrets: try store.activeSecrets(app: stored.id)))
        }
        registry.replaceAll(apps)
    }

    func seed(_ apps: [App], logger: Logger) throws {
        let now = WallClock.milliseconds()
        for app in apps {
            if let stored = try self.store.app(id: app.id) {
                let differing = Self.differences(config: app, stored: stored)
                if !differing.isEmpty {
                    logger.warning(
                        "the config differs from the store for this app; the store's values are used (edit them with the admin API)",
                        metadata: ["app": "\(app.id)", "fields": "\(differing.joined(separator: ", "))"]
                    )
                }
                let active = try self.store.activeSecrets(app: app.id)
                if !app.secrets.allSatisfy(active.contains) {
                    logger.warning(
                        "the config's secret for this app is not among its stored keys; the store's keys are used (rotate them with the admin API)",
                        metadata: ["app": "\(app.id)"]
                    )
                }
                continue
            }
            let stored = StoredApp(
                id: app.id,
                key: app.key,
                name: app.name.isEmpty ? "App \(app.id)" : app.name,
                plan: app.plan.name,
                environment: app.environment,
                region: app.region,
                enabled: app.enabled,
                origins: app.origins,
                hosts: app.hosts,
                clientEvents: app.clientEvents,
                upstream: app.upstream,
                createdAt: now
            )
            do {
                try self.store.insert(stored, secrets: app.secrets)
            } catch {
                throw ConfigError(key: "apps", problem: "app \(app.id) cannot be added to the store (is its key \(app.key) taken by another app?)")
            }
        }
    }

    /// The admin-editable fields whose config value differs from the stored one.
    static func differences(config app: App, stored: StoredApp) -> [String] {
        var fields: [String] = []
        if app.key != stored.key { fields.append("key") }
        if app.plan.name != stored.plan { fields.append("plan") }
        if app.environment != stored.environment { fields.append("environment") }
        if app.region != stored.region { fields.append("region") }
        if app.enabled != stored.enabled { fields.append("enabled") }
        if app.origins != stored.origins { fields.append("origins") }
        if app.hosts != stored.hosts { fields.append("hosts") }
        if app.clientEvents != stored.clientEvents { fields.append("client_events") }
        if app.upstream != stored.upstream { fields.append("upstream") }
        return fields
    }

    /// The running app for `stored` with `secrets` (newest first): the config's settings under the store's fields.
    func merged(_ stored: StoredApp, secrets: [String]) -> App {
        var app = self.configured[stored.id] ?? App(id: stored.id, key: stored.key, secrets: [])
        app.key = stored.key
        app.name = stored.name
        app.secrets = secrets
        app.origins = stored.origins
        app.hosts = stored.hosts
        app.plan = stored.limits.applied(to: self.plans[stored.plan] ?? .free)
        app.environment = stored.environment
        app.region = stored.region
        app.enabled = stored.enabled
        app.clientEvents = stored.clientEvents
        app.upstream = stored.upstream
        return self.live.settings(app: stored.id)?.applied(to: app) ?? app
    }

    /// Reads the app back from the store and publishes it to the registry; disabling an app also ends its connections.
    func publish(_ id: String) throws {
        guard let stored = try self.store.app(id: id) else {
            self.registry.remove(id: id)
            return
        }
        let wasEnabled = self.registry.app(id: id)?.enabled ?? false
        self.registry.upsert(self.merged(stored, secrets: try self.store.activeSecrets(app: id)))
        if wasEnabled, !stored.enabled { self.departures?.dismiss(app: id) }
    }

    // MARK: Reading

    /// Every stored app, by id.
    func apps() throws -> [StoredApp] { try self.store.apps() }

    /// The stored app `id`, or 404.
    func app(_ id: String) throws -> StoredApp {
        guard let app = try self.store.app(id: id) else { throw AdminError.notFound("no app \(id)") }
        return app
    }

    /// The app's keys, newest first, or 404 for an unknown app.
    func keys(app id: String) throws -> [StoredKey] {
        _ = try self.app(id)
        return try self.store.keys(app: id)
    }

    // MARK: Changing

    /// Creates `app` with a new secret; 409 when its id or key is taken.
    func create(_ app: StoredApp) throws -> (app: StoredApp, secret: String) {
        try self.changes.withLock { _ in
            if try self.store.app(id: app.id) != nil { throw AdminError.conflict("an app with id \(app.id) exists") }
            if try self.registry.app(key: app.key) != nil || self.store.apps().contains(where: { $0.key == app.key }) {
                throw AdminError.conflict("an app with key \(app.key) exists")
            }
            let secret = Self.newSecret()
            try self.store.insert(app, secrets: [secret])
            try self.publish(app.id)
            return (try self.app(app.id), secret)
        }
    }

    /// Applies `edit` to the stored app `id` and publishes the result.
    func update(_ id: String, _ edit: (inout StoredApp) throws -> Void) throws -> StoredApp {
        try self.changes.withLock { _ in
            var app = try self.app(id)
            try edit(&app)
            try self.store.update(app)
            try self.publish(id)
            return app
        }
    }

    /// Adds a new key to app `id`; it signs from now on, older keys keep verifying.
    func createKey(app id: String) throws -> (key: StoredKey, secret: String) {
        try self.changes.withLock { _ in
            _ = try self.app(id)
            let secret = Self.newSecret()
            let key = try self.store.addKey(app: id, secret: secret, now: WallClock.milliseconds())
            try self.publish(id)
            return (key, secret)
        }
    }

    /// Rotates `keyID`: a new key that signs from now on; the old one verifies until it is revoked.
    func rotateKey(app id: String, keyID: String) throws -> (key: StoredKey, secret: String) {
        guard let old = try self.keys(app: id).first(where: { $0.id == keyID }) else { throw AdminError.notFound("no key \(keyID) in app \(id)") }
        guard old.isActive else { throw AdminError.conflict("key \(keyID) is revoked") }
        return try self.createKey(app: id)
    }

    /// A revoked key, and the fingerprint of the secret that stopped verifying with it.
    struct RevokedKey {
        var key: StoredKey
        var signer: KeyFingerprint?
    }

    /// Revokes `keyID` of app `id`: it stops verifying at once. The last active key cannot be revoked.
    ///
    /// What the key already authorized (open subscriptions, connections) goes on until `endGrants(of:app:)`.
    func revokeKey(app id: String, keyID: String) throws -> RevokedKey {
        try self.changes.withLock { _ in
            _ = try self.app(id)
            let before = try self.store.activeSecrets(app: id)
            switch try self.store.revokeKey(app: id, id: keyID, now: WallClock.milliseconds()) {
            case .revoked(let key):
                try self.publish(id)
                // The store keeps secrets sealed by key id; the one that left the active set is the revoked key's.
                let after = Set(try self.store.activeSecrets(app: id))
                return RevokedKey(key: key, signer: before.first { !after.contains($0) }.map(KeyFingerprint.init(secret:)))
            case .notFound: throw AdminError.notFound("no key \(keyID) in app \(id)")
            case .alreadyRevoked: throw AdminError.conflict("key \(keyID) is already revoked")
            case .lastActiveKey: throw AdminError.conflict("key \(keyID) is the app's last active key; create another first")
            }
        }
    }

    /// Ends, on this node, every connection and subscription of app `id` that the revoked key had authorized, each with
    /// its protocol's code; returns once they have. Other nodes keep their own store and are not told (see the README).
    func endGrants(of revoked: RevokedKey, app id: String) async {
        guard let signer = revoked.signer else { return }
        await self.departures?.revoke(app: id, signer: signer)
    }

    /// The next free numeric app id (one past the largest, 1001 at least).
    func nextAppID() throws -> String {
        let largest = try self.store.apps().compactMap { Int($0.id) }.max() ?? 1000
        return String(max(largest + 1, 1001))
    }

    /// `sk_live_` and 40 random letters and digits.
    static func newSecret() -> String { "sk_live_" + randomWord(40) }

    /// `pk_` and 24 random letters and digits.
    static func newKey() -> String { "pk_" + randomWord(24) }

    static func randomWord(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}

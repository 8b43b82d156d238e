import Synchronization

/// All apps this edge serves, looked up by id, key, secret or host.
///
/// Behind a lock so the admin API can replace apps while requests read them.
public final class AppRegistry: Sendable {
    struct Indexes {
        var byID: [String: App] = [:]
        var byKey: [String: String] = [:]
        var bySecret: [String: String] = [:]
        var byHost: [String: String] = [:]

        init(apps: [App]) {
            for app in apps {
                self.byID[app.id] = app
                self.byKey[app.key] = app.id
                for secret in app.secrets { self.bySecret[secret] = app.id }
                for host in app.hosts { self.byHost[host.lowercased()] = app.id }
            }
        }
    }

    private let indexes: Mutex<Indexes>
    /// The app used when a request names none.
    public let defaultAppID: String?

    /// Creates a registry of `apps`.
    public init(apps: [App], defaultAppID: String? = nil) {
        self.indexes = Mutex(Indexes(apps: apps))
        self.defaultAppID = defaultAppID
    }

    /// Every app, ordered by id.
    public var all: [App] { self.indexes.withLock { $0.byID.values.sorted { $0.id < $1.id } } }

    /// The app with `id`.
    public func app(id: String) -> App? { self.indexes.withLock { $0.byID[id] } }

    /// The app whose public key is `key`.
    public func app(key: String) -> App? { self.indexes.withLock { i in i.byKey[key].flatMap { i.byID[$0] } } }

    /// The app one of whose secrets is `secret` (server API keys identify their app).
    public func app(secret: String) -> App? { self.indexes.withLock { i in i.bySecret[secret].flatMap { i.byID[$0] } } }

    /// The app serving `host` (port ignored).
    public func app(host: String) -> App? {
        let name = host.split(separator: ":").first.map { String($0).lowercased() } ?? host
        return self.indexes.withLock { i in (i.byHost[host.lowercased()] ?? i.byHost[name]).flatMap { i.byID[$0] } }
    }

    /// The default app, if configured.
    public var defaultApp: App? { self.defaultAppID.flatMap { self.app(id: $0) } }

    /// Adds or replaces an app; its secrets verify (and stop verifying) from the next lookup on.
    public func upsert(_ app: App) {
        self.indexes.withLock { indexes in
            var apps = Array(indexes.byID.values.filter { $0.id != app.id })
            apps.append(app)
            indexes = Indexes(apps: apps)
        }
    }

    /// Removes the app with `id`; returns whether there was one.
    @discardableResult
    public func remove(id: String) -> Bool {
        self.indexes.withLock { indexes in
            guard indexes.byID[id] != nil else { return false }
            indexes = Indexes(apps: indexes.byID.values.filter { $0.id != id })
            return true
        }
    }

    /// Replaces every app at once (start-up, after merging the config with the store).
    public func replaceAll(_ apps: [App]) {
        self.indexes.withLock { $0 = Indexes(apps: apps) }
    }
}

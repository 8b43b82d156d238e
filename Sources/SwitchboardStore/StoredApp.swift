/// An app's admin-editable fields as the store keeps them (secrets live apart, in `app_key`).
///
/// Settings only the config file holds (channel rules, webhooks, presence and client-event limits) are not here:
/// they are merged in by app id when the running app is built.
public struct StoredApp: Sendable, Equatable {
    public var id: String
    public var key: String
    public var name: String
    public var plan: String
    public var environment: String
    public var region: String
    public var enabled: Bool
    public var origins: [String]
    public var hosts: [String]
    public var clientEvents: Bool
    public var upstream: String?
    public var limits: LimitOverrides
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64

    /// Creates a stored app.
    public init(
        id: String,
        key: String,
        name: String,
        plan: String,
        environment: String = "development",
        region: String = "local",
        enabled: Bool = true,
        origins: [String] = [],
        hosts: [String] = [],
        clientEvents: Bool = true,
        upstream: String? = nil,
        limits: LimitOverrides = LimitOverrides(),
        createdAt: Int64
    ) {
        self.id = id
        self.key = key
        self.name = name
        self.plan = plan
        self.environment = environment
        self.region = region
        self.enabled = enabled
        self.origins = origins
        self.hosts = hosts
        self.clientEvents = clientEvents
        self.upstream = upstream
        self.limits = limits
        self.createdAt = createdAt
    }
}

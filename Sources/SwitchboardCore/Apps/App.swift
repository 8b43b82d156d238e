/// One tenant of the edge: its key and secret, who may call it, and its limits.
public struct App: Sendable, Equatable {
    /// The app id (digits, as the official Pusher libraries require).
    public var id: String
    /// The public key clients connect with.
    public var key: String
    /// A label for people (the console, the admin API); empty when none was given.
    public var name: String = ""
    /// The secrets that sign and verify everything; the first signs, all verify (rotation overlap).
    public var secrets: [String]
    /// Browser origins allowed to connect; empty allows any.
    public var origins: [String]
    /// `Host` header values that select this app.
    public var hosts: [String]
    /// The app's limits.
    public var plan: Plan
    /// A free-form label: development, staging, production.
    public var environment: String
    /// A free-form label for where the app runs.
    public var region: String
    /// A disabled app refuses every connection and request.
    public var enabled: Bool
    /// Whether clients may send client events (Pusher) or publish (other protocols) on channels that allow it.
    public var clientEvents: Bool
    /// Channel rules, first match wins.
    public var channelRules: [ChannelRule]
    /// Where requests no adapter claims are forwarded.
    public var upstream: String?
    /// Where the app's webhooks go (`[apps.webhooks]`); nil sends none.
    public var webhooks: WebhookSettings? = nil
    /// Whether subscribers are told their channel's subscriber count (`subscription_count`, default false).
    public var subscriptionCount: Bool = false
    /// The most members one presence channel holds (`max_presence_members`, default 100).
    public var maxPresenceMembers: Int = 100
    /// Seconds of client silence before the server pings it (`activity_timeout`, default 120).
    public var activityTimeoutSeconds: Int = 120
    /// Client events one connection may send per second (`client_event_rate`, default 10).
    public var clientEventsPerSecond: Int = 10
    /// Whether JWT-protocol clients may connect without a token (`allow_anonymous`, default false).
    public var allowAnonymous: Bool = false
    /// Whether WebSocket clients that offer permessage-deflate get it (`websocket_compression`, default false).
    public var websocketCompression: Bool = false

    /// Creates an app.
    public init(
        id: String,
        key: String,
        secrets: [String],
        origins: [String] = [],
        hosts: [String] = [],
        plan: Plan = .free,
        environment: String = "development",
        region: String = "local",
        enabled: Bool = true,
        clientEvents: Bool = true,
        channelRules: [ChannelRule] = [],
        upstream: String? = nil
    ) {
        self.id = id
        self.key = key
        self.secrets = secrets
        self.origins = origins
        self.hosts = hosts
        self.plan = plan
        self.environment = environment
        self.region = region
        self.enabled = enabled
        self.clientEvents = clientEvents
        self.channelRules = channelRules
        self.upstream = upstream
    }

    /// The secret new signatures are made with.
    public var signingSecret: String { self.secrets.first ?? "" }

    /// The first rule matching `channel`, if any.
    public func rule(for channel: String) -> ChannelRule? {
        self.channelRules.first { $0.matches(channel) }
    }

    /// What the plan and the rules decide for `channel`.
    public func policy(for channel: String) -> ChannelPolicy {
        let rule = self.rule(for: channel)
        let kind = ChannelKind(channel: channel)
        // A rule may keep less than the plan allows, never more.
        let size = min(rule?.historySize ?? self.plan.historySize, self.plan.historySize)
        return ChannelPolicy(
            history: HistoryPolicy(
                size: size,
                ttlMilliseconds: rule?.historyTTLMilliseconds ?? ChannelPolicy.defaultHistoryTTLMilliseconds
            ),
            // A public cache channel's last message is what every later Pusher subscriber starts from: the server's
            // alone unless a rule says otherwise.
            clientPublish: self.clientEvents && (rule?.clientPublish ?? (kind != .cache)),
            presence: rule?.presence ?? true,
            requireToken: kind.isProtected || (rule?.requireToken ?? false),
            forceRecovery: rule?.forceRecovery ?? false,
            joinLeave: rule?.joinLeave ?? true
        )
    }
}

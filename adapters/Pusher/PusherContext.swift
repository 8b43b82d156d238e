public import SwitchboardAdapterKit
public import SwitchboardCore

/// What every Pusher connection of this node shares: the bus and gate, the registry of live connections,
/// the cache channels' last events, the webhook queue, and the adapter's limits.
public struct PusherContext: Sendable {
    /// Limits the protocol itself does not fix.
    public struct Limits: Sendable {
        /// Channels one connection may be subscribed to at once (default 100).
        public var maxChannelsPerConnection = 100
        /// Seconds the server waits for a pong after its ping (default 30, and never more than the activity timeout).
        public var pongTimeoutSeconds = 30
        /// Seconds a connection subscribed to nothing may only keep alive before it is closed with 4202 (default 24 h).
        public var idleLimitSeconds = 86_400
        /// The least time between two subscription counts of one channel, to its subscribers and to webhooks (1 s).
        public var subscriptionCountInterval = Duration.seconds(1)

        /// The defaults above.
        public init() {}
    }

    /// The bus, gate and connection counters.
    public let environment: AdapterEnvironment
    /// Live Pusher connections of this node.
    public let registry: PusherRegistry
    /// The last event of each cache channel.
    public let cache: PusherEventCache
    /// The webhook queue, when webhooks are delivered.
    public let webhooks: PusherWebhooks?
    /// The adapter's limits.
    public let limits: Limits

    /// Creates the shared context.
    public init(
        environment: AdapterEnvironment,
        registry: PusherRegistry = PusherRegistry(),
        cache: PusherEventCache = PusherEventCache(),
        webhooks: PusherWebhooks? = nil,
        limits: Limits = Limits()
    ) {
        self.environment = environment
        self.registry = registry
        self.cache = cache
        self.webhooks = webhooks
        self.limits = limits
    }

    /// The bus.
    public var bus: Bus { self.environment.bus }

    /// Registers the adapter's bus observers: the cache channels' store, subscription counts, and webhooks.
    public func attach() {
        // Counts go out at most once a second per channel, to subscribers and to webhooks alike.
        let bus = self.bus
        let count: @Sendable (String, String) -> Int = { app, channel in bus.subscriberCount(app: app, channel: channel) }
        let observer = PusherChannelObserver(bus: self.bus, cache: self.cache)
        let interval = self.limits.subscriptionCountInterval
        self.bus.observers.register(CountThrottledObserver(observer, interval: interval, count: count), name: "pusher")
        if let webhooks = self.webhooks {
            self.bus.observers.register(CountThrottledObserver(webhooks, interval: interval, count: count), name: "pusher.webhooks")
        }
    }
}

/// An app's limits. `nil` means unlimited.
///
/// The four built-in plans: free (10 channels, 64 KB, 500/min, 100 history), builder (50, 128 KB,
/// 5,000/min, 1,000), pro (200, 512 KB, 50,000/min, 1,000), enterprise (unlimited, 1 MB, unlimited, 1,000).
/// Monthly messages: free 200,000, builder 2,000,000, pro 20,000,000, enterprise unlimited.
public struct Plan: Sendable, Equatable {
    /// The plan's name as written in the config.
    public var name: String
    /// Concurrent connections per app.
    public var maxConnections: Int?
    /// Channels with subscribers at once, per app.
    public var maxChannels: Int?
    /// Largest message payload, in bytes.
    public var maxMessageBytes: Int
    /// Publishes per minute per app (client and server together).
    public var publishesPerMinute: Int?
    /// Messages of history kept per channel by default.
    public var historySize: Int
    /// Channels one connection may be subscribed to at once (`max_subscriptions_per_connection`).
    public var maxSubscriptionsPerConnection: Int?
    /// Publishes accepted per calendar month (UTC), every protocol together (`monthly_messages`).
    public var monthlyMessages: Int?
    /// The plan's monthly price as `/api/plans` shows it (`price_monthly`), when the operator sets one.
    public var priceMonthly: Double?
    /// The price's currency (`currency`, e.g. `EUR`).
    public var currency: String?

    /// Creates a plan.
    public init(
        name: String,
        maxConnections: Int?,
        maxChannels: Int?,
        maxMessageBytes: Int,
        publishesPerMinute: Int?,
        historySize: Int,
        maxSubscriptionsPerConnection: Int? = 100,
        monthlyMessages: Int? = nil
    ) {
        self.name = name
        self.maxConnections = maxConnections
        self.maxChannels = maxChannels
        self.maxMessageBytes = maxMessageBytes
        self.publishesPerMinute = publishesPerMinute
        self.historySize = historySize
        self.maxSubscriptionsPerConnection = maxSubscriptionsPerConnection
        self.monthlyMessages = monthlyMessages
    }

    /// 10 channels, 64 KB messages, 500 publishes/min, 100 history, 200 connections.
    public static let free = Plan(
        name: "free",
        maxConnections: 200,
        maxChannels: 10,
        maxMessageBytes: 64 * 1024,
        publishesPerMinute: 500,
        historySize: 100,
        maxSubscriptionsPerConnection: 100,
        monthlyMessages: 200_000
    )
    /// 50 channels, 128 KB messages, 5,000 publishes/min, 1,000 history, 2,000 connections.
    public static let builder = Plan(
        name: "builder",
        maxConnections: 2_000,
        maxChannels: 50,
        maxMessageBytes: 128 * 1024,
        publishesPerMinute: 5_000,
        historySize: 1_000,
        maxSubscriptionsPerConnection: 200,
        monthlyMessages: 2_000_000
    )
    /// 200 channels, 512 KB messages, 50,000 publishes/min, 1,000 history, 20,000 connections.
    public static let pro = Plan(
        name: "pro",
        maxConnections: 20_000,
        maxChannels: 200,
        maxMessageBytes: 512 * 1024,
        publishesPerMinute: 50_000,
        historySize: 1_000,
        maxSubscriptionsPerConnection: 500,
        monthlyMessages: 20_000_000
    )
    /// Unlimited channels, connections and publishes, 1 MB messages, 1,000 history.
    public static let enterprise = Plan(
        name: "enterprise",
        maxConnections: nil,
        maxChannels: nil,
        maxMessageBytes: 1024 * 1024,
        publishesPerMinute: nil,
        historySize: 1_000,
        maxSubscriptionsPerConnection: 1_000
    )

    /// The built-in plans by name.
    public static let builtIn: [String: Plan] = ["free": .free, "builder": .builder, "pro": .pro, "enterprise": .enterprise]
}

/// Where an app's webhooks go and which events it wants (`[apps.webhooks]` in the config).
///
/// Keys: `url` (required), `events` (default: every kind but `subscription_count`).
public struct WebhookSettings: Sendable, Equatable {
    /// The endpoint that receives signed `POST` batches.
    public var url: String
    /// The event kinds sent, from `knownEvents`.
    public var events: [String]

    /// Creates settings; `events` defaults to `defaultEvents`.
    public init(url: String, events: [String] = WebhookSettings.defaultEvents) {
        self.url = url
        self.events = events
    }

    /// True when the app wants events named `name`.
    public func wants(_ name: String) -> Bool { self.events.contains(name) }

    /// Every event kind a webhook may carry.
    public static let knownEvents = [
        "channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count",
    ]

    /// The kinds sent when the config names none: all but the chatty `subscription_count`.
    public static let defaultEvents = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"]
}

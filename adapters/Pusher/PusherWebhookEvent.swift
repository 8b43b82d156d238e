public import NIOCore
import SwitchboardAdapterKit

/// One event of a webhook batch: `{"name","channel", …}` as Pusher sends them.
public struct PusherWebhookEvent: Sendable, Equatable {
    /// `channel_occupied`, `channel_vacated`, `member_added`, `member_removed`, `client_event`, `cache_miss`, `subscription_count`.
    public let name: String
    /// The channel concerned.
    public let channel: String
    /// The event's JSON object.
    public let json: ByteBuffer

    init(name: String, channel: String, _ fields: (inout JSONWriter) -> Void = { _ in }) {
        self.name = name
        self.channel = channel
        var writer = JSONWriter(capacity: 96)
        writer.beginObject()
        writer.member("name", name)
        writer.member("channel", channel)
        fields(&writer)
        writer.endObject()
        self.json = writer.buffer
    }

    /// `channel_occupied`: the channel got its first subscriber.
    public static func channelOccupied(_ channel: String) -> Self { Self(name: "channel_occupied", channel: channel) }
    /// `channel_vacated`: the channel lost its last subscriber.
    public static func channelVacated(_ channel: String) -> Self { Self(name: "channel_vacated", channel: channel) }
    /// `member_added`: a user joined a presence channel.
    public static func memberAdded(_ channel: String, userID: String) -> Self {
        Self(name: "member_added", channel: channel) { $0.member("user_id", userID) }
    }
    /// `member_removed`: a user's last connection left a presence channel.
    public static func memberRemoved(_ channel: String, userID: String) -> Self {
        Self(name: "member_removed", channel: channel) { $0.member("user_id", userID) }
    }
    /// `cache_miss`: a client subscribed to a cache channel with nothing cached.
    public static func cacheMiss(_ channel: String) -> Self { Self(name: "cache_miss", channel: channel) }
    /// `subscription_count`: the channel's subscriber count changed.
    public static func subscriptionCount(_ channel: String, count: Int) -> Self {
        Self(name: "subscription_count", channel: channel) { $0.member("subscription_count", count) }
    }
    /// `client_event`: a client sent `event` on `channel`; `data` is the wire string.
    public static func clientEvent(_ channel: String, event: String, data: String, socketID: String, userID: String?) -> Self {
        Self(name: "client_event", channel: channel) { json in
            json.member("event", event)
            json.member("data", data)
            json.member("socket_id", socketID)
            if let userID { json.member("user_id", userID) }
        }
    }
}

public import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// The frames a Pusher connection sends of its own: handshake, subscription replies, errors, pings.
///
/// As Pusher does, every `data` is a JSON-encoded string except `pusher:error`'s and
/// `pusher:subscription_error`'s, which are objects (pysher reads `data["code"]`).
public enum PusherReply {
    /// `pusher:connection_established` with `{"socket_id","activity_timeout"}` as a string.
    public static func connectionEstablished(socketID: String, activityTimeout: Int) -> ByteBuffer {
        var inner = JSONWriter(capacity: 64)
        inner.beginObject()
        inner.member("socket_id", socketID)
        inner.member("activity_timeout", activityTimeout)
        inner.endObject()
        return frame("pusher:connection_established", channel: nil, dataString: String(buffer: inner.buffer))
    }

    /// `pusher_internal:subscription_succeeded` with `"{}"`.
    public static func subscriptionSucceeded(channel: String) -> ByteBuffer {
        frame("pusher_internal:subscription_succeeded", channel: channel, dataString: "{}")
    }

    /// `pusher_internal:subscription_succeeded` for a presence channel: `{"presence":{"ids","hash","count"}}` as a string.
    public static func presenceSubscriptionSucceeded(channel: String, members: [PresenceMember]) -> ByteBuffer {
        var inner = JSONWriter(capacity: 64 + members.count * 48)
        inner.beginObject()
        inner.key("presence")
        inner.beginObject()
        inner.key("ids")
        inner.beginArray()
        for member in members { inner.string(member.userID) }
        inner.endArray()
        inner.key("hash")
        inner.beginObject()
        for member in members { inner.member(member.userID, raw: member.metadata) }
        inner.endObject()
        inner.member("count", members.count)
        inner.endObject()
        inner.endObject()
        return frame("pusher_internal:subscription_succeeded", channel: channel, dataString: String(buffer: inner.buffer))
    }

    /// `pusher_internal:subscription_count` with `{"subscription_count":n}` as a string.
    public static func subscriptionCount(channel: String, count: Int) -> ByteBuffer {
        frame("pusher_internal:subscription_count", channel: channel, dataString: "{\"subscription_count\":\(count)}")
    }

    /// `pusher:cache_miss` on a cache channel with nothing cached.
    public static func cacheMiss(channel: String) -> ByteBuffer {
        var json = JSONWriter(capacity: 64 + channel.utf8.count)
        json.beginObject()
        json.member("event", "pusher:cache_miss")
        json.member("channel", channel)
        json.endObject()
        return json.buffer
    }

    /// `pusher:signin_success` with `{"user_data": …}` as a string.
    public static func signinSuccess(userData: String) -> ByteBuffer {
        var inner = JSONWriter(capacity: 32 + userData.utf8.count)
        inner.beginObject()
        inner.member("user_data", userData)
        inner.endObject()
        return frame("pusher:signin_success", channel: nil, dataString: String(buffer: inner.buffer))
    }

    /// `pusher_internal:watchlist_events`: watched users who came online (`online`) or went offline (`offline`).
    public static func watchlistEvent(_ name: String, userIDs: [String]) -> ByteBuffer {
        var inner = JSONWriter(capacity: 48 + userIDs.reduce(0) { $0 + $1.utf8.count + 3 })
        inner.beginObject()
        inner.key("events")
        inner.beginArray()
        inner.beginObject()
        inner.member("name", name)
        inner.key("user_ids")
        inner.beginArray()
        for user in userIDs { inner.string(user) }
        inner.endArray()
        inner.endObject()
        inner.endArray()
        inner.endObject()
        return frame("pusher_internal:watchlist_events", channel: nil, dataString: String(buffer: inner.buffer))
    }

    /// `pusher:ping` (the server's, on inactivity).
    public static func ping() -> ByteBuffer { ByteBuffer(string: #"{"event":"pusher:ping","data":{}}"#) }

    /// `pusher:pong`, the reply to a client's ping.
    public static func pong() -> ByteBuffer { ByteBuffer(string: #"{"event":"pusher:pong","data":{}}"#) }

    /// `pusher:error` with `data: {"code","message"}`, and the channel when the error concerns one.
    public static func error(_ code: PusherErrorCode, _ message: String? = nil, channel: String? = nil) -> ByteBuffer {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        json.member("event", "pusher:error")
        if let channel { json.member("channel", channel) }
        json.key("data")
        json.beginObject()
        json.member("code", code.code)
        json.member("message", message ?? code.message)
        json.endObject()
        json.endObject()
        return json.buffer
    }

    /// `pusher:subscription_error` on a channel, as pusher-js and Laravel Echo report a failed subscription:
    /// `data: {"type","error","status"}`.
    public static func subscriptionError(channel: String, type: String, error: String, status: Int) -> ByteBuffer {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        json.member("event", "pusher:subscription_error")
        json.member("channel", channel)
        json.key("data")
        json.beginObject()
        json.member("type", type)
        json.member("error", error)
        json.member("status", status)
        json.endObject()
        json.endObject()
        return json.buffer
    }

    /// `{"event":…,"channel":…,"data":"<dataString>"}`.
    static func frame(_ event: String, channel: String?, dataString: String) -> ByteBuffer {
        var json = JSONWriter(capacity: 48 + event.utf8.count + (channel?.utf8.count ?? 0) + dataString.utf8.count * 5 / 4)
        json.beginObject()
        json.member("event", event)
        if let channel { json.member("channel", channel) }
        json.member("data", dataString)
        json.endObject()
        return json.buffer
    }
}

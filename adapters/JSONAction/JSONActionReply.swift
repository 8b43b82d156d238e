public import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// The error codes of the JSON-action protocol, sent in `error` frames as `data.code`.
public struct JSONActionErrorCode: Sendable, Hashable, CustomStringConvertible {
    /// The wire value.
    public let name: String
    public var description: String { self.name }

    public static let unauthorized = JSONActionErrorCode(name: "unauthorized")
    public static let forbidden = JSONActionErrorCode(name: "forbidden")
    public static let rateLimited = JSONActionErrorCode(name: "rate_limited")
    public static let messageTooLarge = JSONActionErrorCode(name: "message_too_large")
    public static let channelLimit = JSONActionErrorCode(name: "channel_limit")
    public static let badRequest = JSONActionErrorCode(name: "bad_request")
    /// Sent before the server closes for a restart: the client should reconnect.
    public static let reconnect = JSONActionErrorCode(name: "reconnect")
}

/// Frames the server sends a JSON-action client in reply to its own actions.
public enum JSONActionReply {
    /// `{"event":"connected","data":{"clientId":…}}`
    public static func connected(clientID: String) -> ByteBuffer {
        frame("connected") { json in
            json.key("data")
            json.beginObject()
            json.member("clientId", clientID)
            json.endObject()
        }
    }

    /// `{"event":"subscribed","channel":…}` with the channel's last `seq` when it keeps history, and the
    /// current presence `members` when there are any (so a late joiner knows who is there).
    public static func subscribed(channel: String, seq: UInt64?, members: [PresenceMember] = []) -> ByteBuffer {
        frame("subscribed", channel: channel) { json in
            if let seq { json.member("seq", seq) }
            if !members.isEmpty {
                json.key("members")
                json.beginArray()
                for member in members {
                    json.beginObject()
                    json.member("userId", member.userID)
                    json.member("metadata", raw: member.metadata)
                    json.endObject()
                }
                json.endArray()
            }
        }
    }

    /// `{"event":"unsubscribed","channel":…}`
    public static func unsubscribed(channel: String) -> ByteBuffer { frame("unsubscribed", channel: channel) { _ in } }

    /// `{"event":"pong"}`
    public static func pong() -> ByteBuffer { frame("pong") { _ in } }

    /// `{"event":"error","data":{"code":…,"message":…}}`, with the channel when one is concerned.
    public static func error(_ code: JSONActionErrorCode, _ message: String, channel: String? = nil) -> ByteBuffer {
        frame("error", channel: channel) { json in
            json.key("data")
            json.beginObject()
            json.member("code", code.name)
            json.member("message", message)
            json.endObject()
        }
    }

    static func frame(_ event: String, channel: String? = nil, _ body: (inout JSONWriter) -> Void) -> ByteBuffer {
        var json = JSONWriter(capacity: 96)
        json.beginObject()
        json.member("event", event)
        if let channel { json.member("channel", channel) }
        body(&json)
        json.member("ts", WallClock.milliseconds())
        json.endObject()
        return json.buffer
    }
}

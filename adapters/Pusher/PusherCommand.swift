public import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// One client frame of the Pusher protocol, parsed and checked for shape (not for permission).
public enum PusherCommand: Sendable {
    /// `pusher:ping`: answer `pusher:pong`.
    case ping
    /// `pusher:pong`: the reply to the server's ping.
    case pong
    /// `pusher:subscribe` with its optional `auth` and `channel_data` strings.
    case subscribe(channel: String, auth: String?, channelData: String?)
    /// `pusher:unsubscribe`.
    case unsubscribe(channel: String)
    /// `pusher:signin` with `auth` and the `user_data` string it signs.
    case signin(auth: String, userData: String)
    /// A `client-` event: its data in bus form, and the size of the data as sent.
    case clientEvent(event: String, channel: String, data: ByteBuffer, size: Int)

    /// Why a frame was refused; `channel` names the channel concerned when the frame named one.
    public struct Failure: Error, Equatable, Sendable {
        /// What was wrong, for `pusher:error`'s message.
        public let message: String
        /// The channel the frame named, if any.
        public let channel: String?
    }

    /// `pusher:…` and `pusher_internal:…` event names belong to the protocol: pusher-js hands a channel's `pusher:`
    /// events (`pusher:subscription_error`, …) to the app as the server's own, so nobody else may use them.
    public static func isReservedEventName(_ name: String) -> Bool {
        name.hasPrefix("pusher:") || name.hasPrefix("pusher_internal:")
    }

    /// Parses one text frame.
    public init(parsing frame: ByteBuffer) throws(Failure) {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: frame)
        } catch {
            throw Failure(message: "malformed JSON: \(error.message)", channel: nil)
        }
        guard let event = object.string("event"), !event.isEmpty else { throw Failure(message: "\"event\" is required", channel: nil) }
        let channel = object.string("channel")
        switch event {
        case "pusher:ping":
            self = .ping
        case "pusher:pong":
            self = .pong
        case "pusher:subscribe", "pusher:unsubscribe":
            let data = try Self.dataObject(object, event: event)
            guard let name = data.string("channel"), !name.isEmpty else { throw Failure(message: "\(event) needs data.channel", channel: nil) }
            if event == "pusher:unsubscribe" {
                self = .unsubscribe(channel: name)
                return
            }
            if data.has("auth"), !data.isNull("auth"), data.string("auth") == nil {
                throw Failure(message: "data.auth must be a string", channel: name)
            }
            var channelData = data.string("channel_data")
            if channelData == nil, let raw = data.raw("channel_data"), !data.isNull("channel_data") {
                // Some clients send channel_data as an object; its bytes are what they signed.
                channelData = String(buffer: raw)
            }
            self = .subscribe(channel: name, auth: data.string("auth"), channelData: channelData)
        case "pusher:signin":
            let data = try Self.dataObject(object, event: event)
            guard let auth = data.string("auth"), let userData = data.string("user_data") else {
                throw Failure(message: "pusher:signin needs data.auth and data.user_data strings", channel: nil)
            }
            self = .signin(auth: auth, userData: userData)
        default:
            guard event.hasPrefix("client-") else { throw Failure(message: "unsupported event \(event)", channel: channel) }
            guard EventName.isValid(event) else { throw Failure(message: EventName.rule, channel: channel) }
            guard let channel, !channel.isEmpty else { throw Failure(message: "client events need a channel", channel: nil) }
            guard let raw = object.raw("data") else { throw Failure(message: "client events need data", channel: channel) }
            let content = object.string("data")
            self = .clientEvent(
                event: event,
                channel: channel,
                data: PusherData.busData(raw: raw, content: content),
                size: content?.utf8.count ?? raw.readableBytes
            )
        }
    }

    /// `data` as an object; it may also come as a string holding one.
    static func dataObject(_ object: JSONObject, event: String) throws(Failure) -> JSONObject {
        if let data = object.object("data") { return data }
        if let text = object.string("data"), let data = try? JSONObject(parsing: ByteBuffer(string: text)) { return data }
        throw Failure(message: "\(event) needs a data object", channel: nil)
    }
}

public import NIOCore
import SwitchboardAdapterKit

/// One client frame of the JSON-action protocol, parsed and checked for shape (not for permission).
public enum JSONActionCommand: Sendable {
    case subscribe(channel: String, token: String?, lastEventID: UInt64?)
    case unsubscribe(channel: String)
    case publish(channel: String, data: ByteBuffer, userID: String?, token: String?, name: String?)
    case presenceJoin(channel: String, userID: String, metadata: ByteBuffer)
    case presenceUpdate(channel: String, userID: String?, metadata: ByteBuffer)
    case presenceLeave(channel: String, userID: String?)
    case ping

    /// A frame that is not a valid command, with the channel it named, if any.
    public struct Invalid: Error, Sendable {
        /// Why it is invalid, for the `bad_request` message.
        public var message: String
        /// The channel the frame named, echoed in the error frame.
        public var channel: String?
    }

    static let nullJSON = ByteBuffer(string: "null")

    /// Parses a text frame.
    public init(parsing frame: ByteBuffer) throws(Invalid) {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: frame)
        } catch {
            throw Invalid(message: "malformed JSON: \(error.message)", channel: nil)
        }
        guard let action = object.string("action") else { throw Invalid(message: "missing \"action\"", channel: nil) }
        let channel = object.string("channel")
        func requireChannel() throws(Invalid) -> String {
            guard let channel, !channel.isEmpty else { throw Invalid(message: "\(action) needs a \"channel\"", channel: nil) }
            return channel
        }
        // An optional string field of another type is refused: read as absent, a publish would go out unnamed or
        // anonymous, or a subscribe would be tried without the token the client meant to send.
        func optionalString(_ key: String) throws(Invalid) -> String? {
            guard object.has(key), !object.isNull(key) else { return nil }
            guard let value = object.string(key) else { throw Invalid(message: "\"\(key)\" must be a string", channel: channel) }
            return value
        }
        switch action {
        case "subscribe":
            let channel = try requireChannel()
            var lastEventID: UInt64?
            if object.has("lastEventId"), !object.isNull("lastEventId") {
                // A whole number written as `2.0` (as JSON encoders of floats write it) is that number.
                let integral = object.double("lastEventId").flatMap { $0 == $0.rounded() && $0 < 9_007_199_254_740_992 ? Int64(exactly: $0) : nil }
                guard let value = object.integer("lastEventId") ?? integral, value >= 0 else {
                    throw Invalid(message: "\"lastEventId\" must be a non-negative integer", channel: channel)
                }
                lastEventID = UInt64(value)
            }
            self = .subscribe(channel: channel, token: try optionalString("token"), lastEventID: lastEventID)
        case "unsubscribe":
            self = .unsubscribe(channel: try requireChannel())
        case "publish":
            let channel = try requireChannel()
            guard let data = object.raw("data") else { throw Invalid(message: "publish needs \"data\"", channel: channel) }
            self = .publish(
                channel: channel,
                data: data,
                userID: try optionalString("userId"),
                token: try optionalString("token"),
                name: try optionalString("name")
            )
        case "presence:join":
            let channel = try requireChannel()
            guard let userID = object.string("userId"), !userID.isEmpty else {
                throw Invalid(message: "presence:join needs a \"userId\"", channel: channel)
            }
            self = .presenceJoin(channel: channel, userID: userID, metadata: object.raw("metadata") ?? Self.nullJSON)
        case "presence:update":
            let channel = try requireChannel()
            self = .presenceUpdate(channel: channel, userID: try optionalString("userId"), metadata: object.raw("metadata") ?? Self.nullJSON)
        case "presence:leave":
            self = .presenceLeave(channel: try requireChannel(), userID: try optionalString("userId"))
        case "ping":
            self = .ping
        default:
            throw Invalid(message: "unknown action \"\(action)\"", channel: channel)
        }
    }
}

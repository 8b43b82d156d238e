import NIOCore
import Pusher
import SwitchboardAdapterKit
import SwitchboardCore

/// The Pusher protocol's frame decoder (`PusherCommand(parsing:)`).
enum PusherCommandFuzzCheck {
    static let target = FuzzTarget(
        name: "pusher-command",
        maxLength: 4096,
        summary: "PusherCommand(parsing:): channels are non-empty; a client event is named `client-…` within 200 bytes and its "
            + "data in bus form is exactly one JSON value; a command re-encoded as the server relays it decodes to the same command",
        check: { input throws(FuzzFailure) in try check(input) }
    )

    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        guard let command = try? PusherCommand(parsing: ByteBuffer(bytes: input)) else { return }
        try checkShape(command)
        let encoded = encode(command)
        let again: PusherCommand
        do {
            again = try PusherCommand(parsing: encoded)
        } catch {
            throw FuzzFailure("the re-encoded command \(show(Array(encoded.readableBytesView))) is refused: \(error.message)")
        }
        let reencoded = encode(again)
        try require(
            reencoded == encoded,
            "re-encoding changed the command: \(show(Array(encoded.readableBytesView))) then \(show(Array(reencoded.readableBytesView)))"
        )
    }

    static func checkShape(_ command: PusherCommand) throws(FuzzFailure) {
        switch command {
        case .ping, .pong, .signin:
            break
        case .subscribe(let channel, _, _), .unsubscribe(let channel):
            try require(!channel.isEmpty, "accepted an empty channel")
        case .clientEvent(let event, let channel, let data, _):
            try require(!channel.isEmpty, "accepted an empty channel")
            try require(
                event.hasPrefix("client-") && EventName.isValid(event),
                "accepted event name \(event.debugDescription)"
            )
            try requireSingleJSONValue(data, "client event data in bus form")
        }
    }

    /// The command as a frame; a client event's data as the server writes it on the wire.
    static func encode(_ command: PusherCommand) -> ByteBuffer {
        var json = JSONWriter()
        json.beginObject()
        switch command {
        case .ping:
            json.member("event", "pusher:ping")
        case .pong:
            json.member("event", "pusher:pong")
        case .subscribe(let channel, let auth, let channelData):
            json.member("event", "pusher:subscribe")
            json.key("data")
            json.beginObject()
            json.member("channel", channel)
            if let auth { json.member("auth", auth) }
            if let channelData { json.member("channel_data", channelData) }
            json.endObject()
        case .unsubscribe(let channel):
            json.member("event", "pusher:unsubscribe")
            json.key("data")
            json.beginObject()
            json.member("channel", channel)
            json.endObject()
        case .signin(let auth, let userData):
            json.member("event", "pusher:signin")
            json.key("data")
            json.beginObject()
            json.member("auth", auth)
            json.member("user_data", userData)
            json.endObject()
        case .clientEvent(let event, let channel, let data, _):
            json.member("event", event)
            json.member("channel", channel)
            json.key("data")
            PusherData.writeWire(data, to: &json)
        }
        json.endObject()
        return json.buffer
    }
}

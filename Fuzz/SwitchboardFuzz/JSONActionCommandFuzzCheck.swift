import JSONAction
import NIOCore
import SwitchboardAdapterKit

/// The JSON-action protocol's frame decoder (`JSONActionCommand(parsing:)`).
enum JSONActionCommandFuzzCheck {
    static let target = FuzzTarget(
        name: "json-action-command",
        maxLength: 4096,
        summary: "JSONActionCommand(parsing:): a command it accepts names a non-empty channel where it needs one, carries data and "
            + "metadata that are single JSON values, and re-encodes to a frame that decodes to the same command",
        check: { input throws(FuzzFailure) in try check(input) }
    )

    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        guard let command = try? JSONActionCommand(parsing: ByteBuffer(bytes: input)) else { return }
        try checkShape(command)
        let encoded = encode(command)
        guard let again = try? JSONActionCommand(parsing: encoded) else {
            throw FuzzFailure("the re-encoded command \(show(Array(encoded.readableBytesView))) is refused")
        }
        let reencoded = encode(again)
        try require(
            reencoded == encoded,
            "re-encoding changed the command: \(show(Array(encoded.readableBytesView))) then \(show(Array(reencoded.readableBytesView)))"
        )
    }

    static func checkShape(_ command: JSONActionCommand) throws(FuzzFailure) {
        switch command {
        case .subscribe(let channel, _, _), .unsubscribe(let channel), .presenceLeave(let channel, _):
            try require(!channel.isEmpty, "accepted an empty channel")
        case .publish(let channel, let data, _, _, _):
            try require(!channel.isEmpty, "accepted an empty channel")
            try requireSingleJSONValue(data, "publish data")
        case .presenceJoin(let channel, let userID, let metadata):
            try require(!channel.isEmpty && !userID.isEmpty, "presence:join accepted an empty channel or userId")
            try requireSingleJSONValue(metadata, "presence:join metadata")
        case .presenceUpdate(let channel, _, let metadata):
            try require(!channel.isEmpty, "accepted an empty channel")
            try requireSingleJSONValue(metadata, "presence:update metadata")
        case .ping:
            break
        }
    }

    /// The command as a canonical frame.
    static func encode(_ command: JSONActionCommand) -> ByteBuffer {
        var json = JSONWriter()
        json.beginObject()
        switch command {
        case .subscribe(let channel, let token, let lastEventID):
            json.member("action", "subscribe")
            json.member("channel", channel)
            if let token { json.member("token", token) }
            if let lastEventID { json.member("lastEventId", lastEventID) }
        case .unsubscribe(let channel):
            json.member("action", "unsubscribe")
            json.member("channel", channel)
        case .publish(let channel, let data, let userID, let token, let name):
            json.member("action", "publish")
            json.member("channel", channel)
            json.member("data", raw: data)
            if let userID { json.member("userId", userID) }
            if let token { json.member("token", token) }
            if let name { json.member("name", name) }
        case .presenceJoin(let channel, let userID, let metadata):
            json.member("action", "presence:join")
            json.member("channel", channel)
            json.member("userId", userID)
            json.member("metadata", raw: metadata)
        case .presenceUpdate(let channel, let userID, let metadata):
            json.member("action", "presence:update")
            json.member("channel", channel)
            if let userID { json.member("userId", userID) }
            json.member("metadata", raw: metadata)
        case .presenceLeave(let channel, let userID):
            json.member("action", "presence:leave")
            json.member("channel", channel)
            if let userID { json.member("userId", userID) }
        case .ping:
            json.member("action", "ping")
        }
        json.endObject()
        return json.buffer
    }
}

/// Throws unless `bytes` is exactly one JSON value: relayed data that is not would splice members into the frames it is
/// written into raw (`"data":1,"channel":"other"`).
func requireSingleJSONValue(_ bytes: ByteBuffer, _ what: String) throws(FuzzFailure) {
    var wrapped = ByteBuffer(string: "{\"v\":")
    wrapped.writeImmutableBuffer(bytes)
    wrapped.writeString("}")
    let object = try? JSONObject(parsing: wrapped)
    try require(
        object?.keys == ["v"] && object?.raw("v") == bytes,
        "\(what) \(show(Array(bytes.readableBytesView))) is not exactly one JSON value"
    )
}

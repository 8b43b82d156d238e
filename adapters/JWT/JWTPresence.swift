import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// How JWT-protocol connections appear in a channel's presence set, which all protocols share.
///
/// A JWT connection joins as its token's `sub`, with metadata `{"client":…,"conn_info":…,"chan_info":…}`; members that
/// other protocols added show their user id as the client and their metadata as `conn_info`.
public enum JWTPresence {
    /// Whether a JWT subscription to `channel` joins its presence set: `presence-…` channels, or a rule with `presence = true`.
    public static func joins(_ channel: String, app: App) -> Bool {
        guard app.policy(for: channel).presence else { return false }
        return ChannelKind(channel: channel) == .presence || app.rule(for: channel)?.presence == true
    }

    /// The metadata a JWT connection joins with: its connection token's `info`, and its subscription token's.
    static func metadata(client: String, info: ByteBuffer?, channelInfo: ByteBuffer? = nil) -> ByteBuffer {
        var json = JSONWriter(capacity: 64 + (info?.readableBytes ?? 0) + (channelInfo?.readableBytes ?? 0))
        json.beginObject()
        json.member("client", client)
        if let info { json.member("conn_info", raw: info) }
        if let channelInfo { json.member("chan_info", raw: channelInfo) }
        json.endObject()
        return json.buffer
    }

    /// The channel info (a subscription token's `info`) shown for `member`, if any.
    static func chanInfo(of member: PresenceMember) -> ByteBuffer? {
        guard let object = try? JSONObject(parsing: member.metadata), object.has("client") else { return nil }
        return object.raw("chan_info")
    }

    /// The client id shown for `member`.
    static func clientID(of member: PresenceMember) -> String {
        guard let object = try? JSONObject(parsing: member.metadata), let client = object.string("client") else { return member.userID }
        return client
    }

    /// The connection info shown for `member`, if any.
    static func connInfo(of member: PresenceMember) -> ByteBuffer? {
        if let object = try? JSONObject(parsing: member.metadata), object.has("client") { return object.raw("conn_info") }
        if String(buffer: member.metadata) == "null" { return nil }
        return member.metadata
    }

    /// `{"<client>":{"client":…,"user":…,"conn_info":…},…}`
    static func write(_ members: [PresenceMember], to json: inout JSONWriter) {
        json.beginObject()
        for member in members {
            json.key(clientID(of: member))
            JWTEncoder.writeClientInfo(member, to: &json)
        }
        json.endObject()
    }
}

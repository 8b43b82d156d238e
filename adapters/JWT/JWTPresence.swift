import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// How JWT-protocol connections appear in a channel's presence set, which all protocols share.
///
/// A JWT connection joins as its token's `sub`, with metadata `{"client":…,"conn_info":…,"chan_info":…}`, and is listed as
/// its own client (a user's second tab too, as Centrifugo lists it); members that other protocols added show their user
/// id as the client and their metadata as `conn_info`.
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

    /// One entry of a channel's presence as JWT clients see it: Centrifugo lists clients, not users.
    struct Client {
        /// The key it is listed under: a JWT connection's client id, else the user id.
        var id: String
        var userID: String
        /// What it joined with: `{"client":…,"conn_info":…,"chan_info":…}` for a JWT connection, else the member's.
        var metadata: ByteBuffer
    }

    /// The clients of `members`: one per JWT connection holding a member, then one per member that other protocols'
    /// connections or the app's server hold, under its user id. An id is listed once, the first time: a JSON object
    /// with the key twice would let whichever comes last hide the other.
    static func clients(of members: [PresenceMember]) -> [Client] {
        var clients: [Client] = []
        var others: [Client] = []
        for member in members {
            var other: ByteBuffer?
            for metadata in member.holders {
                if let client = Self.client(in: metadata) {
                    clients.append(Client(id: client, userID: member.userID, metadata: metadata))
                } else if other == nil {
                    other = Self.client(in: member.metadata) == nil ? member.metadata : metadata
                }
            }
            if member.holders.isEmpty {
                others.append(Self.client(userID: member.userID, metadata: member.metadata))
            } else if let other {
                others.append(Client(id: member.userID, userID: member.userID, metadata: other))
            }
        }
        var listed = Set<String>()
        return (clients + others).filter { listed.insert($0.id).inserted }
    }

    /// The entry for one holder's `metadata`: under its client id when a JWT connection joined with it.
    static func client(userID: String, metadata: ByteBuffer) -> Client {
        Client(id: Self.client(in: metadata) ?? userID, userID: userID, metadata: metadata)
    }

    /// The client id in what a JWT connection joined with; nil for another protocol's metadata. Only the shape
    /// `metadata(client:info:channelInfo:)` writes counts, so a Pusher `user_info` such as `{"name":…,"client":"web"}`
    /// stays a user's metadata.
    private static func client(in metadata: ByteBuffer) -> String? {
        Self.joined(metadata)?.string("client")
    }

    /// `metadata` parsed, when it has the shape a JWT connection joins with.
    private static func joined(_ metadata: ByteBuffer) -> JSONObject? {
        guard let object = try? JSONObject(parsing: metadata), object.keys.first == "client",
            object.keys.allSatisfy(Self.joinedKeys.contains)
        else { return nil }
        return object
    }

    /// The keys of what a JWT connection joins with.
    private static let joinedKeys: Set<String> = ["client", "conn_info", "chan_info"]

    /// The connection info in `metadata`, if any: a JWT connection's `conn_info`, or another protocol's metadata.
    static func connInfo(in metadata: ByteBuffer) -> ByteBuffer? {
        if let object = Self.joined(metadata) { return object.raw("conn_info") }
        if String(buffer: metadata) == "null" { return nil }
        return metadata
    }

    /// The channel info (a subscription token's `info`) in what a JWT connection joined with, if any.
    static func chanInfo(in metadata: ByteBuffer) -> ByteBuffer? {
        Self.joined(metadata)?.raw("chan_info")
    }

    /// `{"<client>":{"client":…,"user":…,"conn_info":…},…}`
    static func write(_ members: [PresenceMember], to json: inout JSONWriter) {
        json.beginObject()
        for client in Self.clients(of: members) {
            json.key(client.id)
            JWTEncoder.writeClientInfo(client: client.id, userID: client.userID, metadata: client.metadata, to: &json)
        }
        json.endObject()
    }

    /// `"num_clients":…,"num_users":…` into an open object.
    static func writeStats(_ members: [PresenceMember], to json: inout JSONWriter) {
        json.member("num_clients", Self.clients(of: members).count)
        json.member("num_users", Set(members.map(\.userID)).count)
    }
}

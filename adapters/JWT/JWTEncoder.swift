public import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// Encodes bus messages as JWT-protocol pushes: `pub` for publications, `join`/`leave` for presence changes.
///
/// `{"push":{"channel":…,"pub":{"data":…,"offset":…,"tags":{"event":…,…},"info":{"user":…,"client":…,"conn_info":…}}}}`
public struct JWTEncoder: FrameEncoder {
    public let protocolName = "jwt"

    /// A WebSocket text frame: built once per broadcast, written to every subscriber as is.
    public func wire(_ frame: ByteBuffer, compressed: Bool) -> ByteBuffer? { ServerFrame.text(frame, compressed: compressed) }

    /// Decides per channel whether join and leave pushes are sent (the `join_leave` channel rule).
    let app: App?

    /// Creates the encoder; with an app, its channel rules can turn join/leave pushes off.
    public init(app: App? = nil) { self.app = app }

    public func frame(for message: BusMessage) -> ByteBuffer? {
        switch message {
        case .publication(let publication):
            var json = JSONWriter(capacity: 160 + publication.data.readableBytes + (publication.connInfo?.readableBytes ?? 0))
            json.beginObject()
            json.key("push")
            json.beginObject()
            json.member("channel", publication.channel)
            json.key("pub")
            Self.writePublication(publication, to: &json)
            json.endObject()
            json.endObject()
            return json.buffer
        case .presence(let change):
            let kind: String
            switch change.kind {
            case .join, .connectionJoin: kind = "join"
            case .leave, .connectionLeave: kind = "leave"
            case .update: return nil
            }
            if let app = self.app, !app.policy(for: change.channel).joinLeave { return nil }
            var json = JSONWriter(capacity: 128 + change.member.metadata.readableBytes)
            json.beginObject()
            json.key("push")
            json.beginObject()
            json.member("channel", change.channel)
            json.key(kind)
            json.beginObject()
            json.key("info")
            // The client that came or went: a leave by a member's last connection names that one, not the first.
            let client = JWTPresence.client(userID: change.member.userID, metadata: change.holderMetadata ?? change.member.metadata)
            Self.writeClientInfo(client: client.id, userID: client.userID, metadata: client.metadata, to: &json)
            json.endObject()
            json.endObject()
            json.endObject()
            return json.buffer
        }
    }

    /// A publication object as pushes, history and recovery carry it.
    static func writePublication(_ publication: Publication, to json: inout JSONWriter) {
        json.beginObject()
        json.member("data", raw: publication.data)
        if let offset = publication.position?.offset { json.member("offset", offset) }
        if publication.event != nil || !publication.tags.isEmpty {
            json.key("tags")
            json.beginObject()
            if let event = publication.event { json.member("event", event) }
            // `event` is the bus's own field; a stray tag of that name (none gets past the API) must not write the key twice.
            for (key, value) in publication.tags where key != "event" || publication.event == nil { json.member(key, value) }
            json.endObject()
        }
        // A client's publication names its client and connection info, as Centrifugo's does; a server's has no info.
        if publication.userID != nil || publication.clientID != nil {
            json.key("info")
            json.beginObject()
            json.member("user", publication.userID ?? "")
            json.member("client", publication.clientID ?? "")
            if let info = publication.connInfo { json.member("conn_info", raw: info) }
            json.endObject()
        }
        json.endObject()
    }

    /// A client info object (`client`, `user`, `conn_info`, `chan_info`) for a presence entry.
    static func writeClientInfo(client: String, userID: String, metadata: ByteBuffer, to json: inout JSONWriter) {
        json.beginObject()
        json.member("client", client)
        json.member("user", userID)
        if let info = JWTPresence.connInfo(in: metadata) { json.member("conn_info", raw: info) }
        if let info = JWTPresence.chanInfo(in: metadata) { json.member("chan_info", raw: info) }
        json.endObject()
    }
}

public import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// Encodes bus messages as Pusher frames: `{"event","channel","data"[,"user_id"]}` with `data` a string.
///
/// Unnamed messages become event `message`; presence joins and leaves on `presence-` channels become
/// `pusher_internal:member_added` / `member_removed`, and on a user's `#online-…` channel
/// `pusher_internal:watchlist_events`; metadata updates and events named in the protocol's own namespaces (`pusher:`,
/// `pusher_internal:`) are not shown.
public struct PusherEncoder: FrameEncoder {
    public let protocolName = "pusher"

    /// A WebSocket text frame: built once per broadcast, written to every subscriber as is.
    public func wire(_ frame: ByteBuffer, compressed: Bool) -> ByteBuffer? { ServerFrame.text(frame, compressed: compressed) }

    /// Creates the encoder.
    public init() {}

    public func frame(for message: BusMessage) -> ByteBuffer? {
        switch message {
        case .publication(let publication):
            return Self.event(publication)
        case .presence(let change):
            if PusherChannel.isOnlineStatus(change.channel) { return Self.watchlistEvent(change) }
            guard PusherChannel.isPresence(change.channel) else { return nil }
            switch change.kind {
            case .join:
                var inner = JSONWriter(capacity: 48 + change.member.metadata.readableBytes)
                inner.beginObject()
                inner.member("user_id", change.member.userID)
                inner.member("user_info", raw: change.member.metadata)
                inner.endObject()
                return PusherReply.frame("pusher_internal:member_added", channel: change.channel, dataString: String(buffer: inner.buffer))
            case .leave:
                var inner = JSONWriter(capacity: 48)
                inner.beginObject()
                inner.member("user_id", change.member.userID)
                inner.endObject()
                return PusherReply.frame("pusher_internal:member_removed", channel: change.channel, dataString: String(buffer: inner.buffer))
            case .update, .connectionJoin, .connectionLeave:
                return nil
            }
        }
    }

    /// A watched user's first connection signed in (`online`) or its last one closed (`offline`).
    static func watchlistEvent(_ change: PresenceChange) -> ByteBuffer? {
        switch change.kind {
        case .join: PusherReply.watchlistEvent("online", userIDs: [change.member.userID])
        case .leave: PusherReply.watchlistEvent("offline", userIDs: [change.member.userID])
        case .update, .connectionJoin, .connectionLeave: nil
        }
    }

    /// The frame of one published event; nil for names reserved to the protocol.
    public static func event(_ publication: Publication) -> ByteBuffer? {
        let name = publication.event ?? "message"
        guard !PusherCommand.isReservedEventName(name) else { return nil }
        var json = JSONWriter(capacity: 96 + name.utf8.count + publication.channel.utf8.count + publication.data.readableBytes * 5 / 4)
        json.beginObject()
        json.member("event", name)
        json.member("channel", publication.channel)
        json.key("data")
        PusherData.writeWire(publication.data, to: &json)
        if let userID = publication.userID { json.member("user_id", userID) }
        json.endObject()
        return json.buffer
    }
}

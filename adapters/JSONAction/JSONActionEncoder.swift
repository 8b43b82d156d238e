public import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// Encodes bus messages as JSON-action frames: `realtime.message` and `presence.*`.
public struct JSONActionEncoder: FrameEncoder {
    public let protocolName = "jsonaction"

    /// A WebSocket text frame: built once per broadcast, written to every subscriber as is.
    public func wire(_ frame: ByteBuffer, compressed: Bool) -> ByteBuffer? { ServerFrame.text(frame, compressed: compressed) }

    /// Creates the encoder.
    public init() {}

    public func frame(for message: BusMessage) -> ByteBuffer? {
        switch message {
        case .publication(let publication):
            return Self.message(publication)
        case .presence(let change):
            guard change.kind.changesMember else { return nil }
            var json = JSONWriter(capacity: 128 + change.member.metadata.readableBytes)
            json.beginObject()
            json.member("event", "presence." + change.kind.rawValue)
            json.member("channel", change.channel)
            json.member("userId", change.member.userID)
            json.member("metadata", raw: change.member.metadata)
            json.member("ts", change.timestamp)
            json.endObject()
            return json.buffer
        }
    }

    /// A `realtime.message` frame; also the shape of one history entry.
    static func message(_ publication: Publication, event: String? = "realtime.message") -> ByteBuffer {
        var json = JSONWriter(capacity: 128 + publication.data.readableBytes)
        json.beginObject()
        if let event { json.member("event", event) }
        json.member("channel", publication.channel)
        json.member("data", raw: publication.data)
        if let userID = publication.userID { json.member("userId", userID) }
        if let offset = publication.position?.offset { json.member("seq", offset) }
        if let name = publication.event { json.member("name", name) }
        json.member("ts", publication.timestamp)
        json.endObject()
        return json.buffer
    }
}

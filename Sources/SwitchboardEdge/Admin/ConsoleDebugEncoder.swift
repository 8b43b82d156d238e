import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// Encodes bus messages for the console's debug stream: one SSE event per message, with everything a developer
/// wants to see (channel, event name, data, user, position, time) in one JSON `data:` line.
///
/// Its own protocol name, so the admin channel view counts the console's debug subscribers as `consoledebug`, not `sse`.
struct ConsoleDebugEncoder: FrameEncoder {
    let protocolName = "consoledebug"

    func frame(for message: BusMessage) -> ByteBuffer? {
        if case .presence(let change) = message, !change.kind.changesMember { return nil }
        var json = JSONWriter(capacity: 160)
        let event: String
        json.beginObject()
        switch message {
        case .publication(let publication):
            event = "message"
            json.member("channel", publication.channel)
            if let name = publication.event { json.member("event", name) }
            json.member("data", raw: publication.data)
            if let user = publication.userID { json.member("userId", user) }
            if let offset = publication.position?.offset { json.member("seq", offset) }
            json.member("ts", publication.timestamp)
        case .presence(let change):
            event = "presence"
            json.member("channel", change.channel)
            json.member("event", "presence.\(change.kind.rawValue)")
            json.member("userId", change.member.userID)
            json.member("metadata", raw: change.member.metadata)
            json.member("ts", change.timestamp)
        }
        json.endObject()
        // JSONWriter escapes control characters inside strings and the payload is one JSON value,
        // but published data keeps its own line breaks: split them into `data:` lines as SSE requires.
        var buffer = ByteBufferAllocator().buffer(capacity: json.buffer.readableBytes + 32)
        buffer.writeString("event: \(event)\ndata: ")
        for byte in json.buffer.readableBytesView {
            switch byte {
            case UInt8(ascii: "\n"): buffer.writeStaticString("\ndata: ")
            case UInt8(ascii: "\r"): continue
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeStaticString("\n\n")
        return buffer
    }
}

public import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// Encodes bus messages as Server-Sent Events blocks (`event:` and `data:` lines, no `id:`).
///
/// The `id:` cursor differs per stream, so the stream writes it in front of these shared bytes. A publication named
/// like one of the stream's own events (`presence.join`, `unauthorized`, …) is not shown.
public struct SSEEncoder: FrameEncoder {
    public let protocolName = "sse"

    /// The event names of the stream's own events: shown under one of them, a publication would announce a member or
    /// end a client's token on every stream of its channel.
    static let reservedEventNames: Set<String> = ["presence.join", "presence.update", "presence.leave", "unauthorized"]

    /// Creates the encoder.
    public init() {}

    public func frame(for message: BusMessage) -> ByteBuffer? {
        switch message {
        case .publication(let publication):
            let event = publication.event.map(Self.singleLine)
            if let event, Self.reservedEventNames.contains(event) { return nil }
            var buffer = ByteBufferAllocator().buffer(capacity: publication.data.readableBytes + 32)
            if let event {
                buffer.writeStaticString("event: ")
                buffer.writeString(event)
                buffer.writeStaticString("\n")
            }
            Self.writeData(publication.data, to: &buffer)
            return buffer
        case .presence(let change):
            guard change.kind.changesMember else { return nil }
            var json = JSONWriter(capacity: 64 + change.member.metadata.readableBytes)
            json.beginObject()
            json.member("channel", change.channel)
            json.member("userId", change.member.userID)
            json.member("metadata", raw: change.member.metadata)
            json.endObject()
            var buffer = ByteBufferAllocator().buffer(capacity: json.buffer.readableBytes + 40)
            buffer.writeString("event: presence.\(change.kind.rawValue)\n")
            Self.writeData(json.buffer, to: &buffer)
            return buffer
        }
    }

    /// Writes `data:` lines for `json`, one per line it contains, then the blank line that ends the event.
    static func writeData(_ json: ByteBuffer, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("data: ")
        for byte in json.readableBytesView {
            switch byte {
            case UInt8(ascii: "\n"): buffer.writeStaticString("\ndata: ")
            case UInt8(ascii: "\r"): continue
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeStaticString("\n\n")
    }

    static func singleLine(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" })
    }
}

public import NIOCore
public import NIOWebSocket

/// The wire bytes of frames a server sends: never masked, so one message's bytes are the same for every client and
/// can be built once per broadcast and written to each socket as they are (RFC 6455 §5.2).
public enum ServerFrame {
    /// A final frame of `opcode` carrying `payload`, header and payload in one buffer; `compressed` sets RSV1.
    public static func make(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, compressed: Bool = false) -> ByteBuffer {
        var bytes = ByteBufferAllocator().buffer(capacity: payload.readableBytes + 10)
        self.writeHeader(into: &bytes, opcode: opcode, length: payload.readableBytes, compressed: compressed)
        var payload = payload
        bytes.writeBuffer(&payload)
        return bytes
    }

    /// A text frame of `payload` (RSV1 when `compressed`).
    public static func text(_ payload: ByteBuffer, compressed: Bool = false) -> ByteBuffer {
        self.make(.text, payload, compressed: compressed)
    }

    /// A close frame with `code` and a `reason` cut to fit a control frame (125 bytes in all).
    public static func close(code: UInt16, reason: String?) -> ByteBuffer {
        var payload = ByteBufferAllocator().buffer(capacity: 125)
        payload.writeInteger(code)
        if let reason {
            var cut = Substring(reason)
            while cut.utf8.count > 123 { cut = cut.dropLast() }
            payload.writeString(String(cut))
        }
        return self.make(.connectionClose, payload)
    }

    /// Writes the two to ten header bytes of a final frame.
    static func writeHeader(into bytes: inout ByteBuffer, opcode: WebSocketOpcode, length: Int, compressed: Bool) {
        bytes.writeInteger(UInt8(0x80 | (compressed ? 0x40 : 0) | UInt8(webSocketOpcode: opcode)))
        switch length {
        case ..<126:
            bytes.writeInteger(UInt8(length))
        case ..<65_536:
            bytes.writeInteger(UInt8(126))
            bytes.writeInteger(UInt16(length))
        default:
            bytes.writeInteger(UInt8(127))
            bytes.writeInteger(UInt64(length))
        }
    }
}

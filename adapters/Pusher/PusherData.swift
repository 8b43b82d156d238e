public import NIOCore
public import SwitchboardAdapterKit

/// Maps event data between the Pusher wire, where `data` is a string, and the bus, where it is JSON.
///
/// In: a string whose content is itself JSON goes on the bus as that JSON; any other string goes as a JSON
/// string; a non-string value (some clients send objects) goes as it is. Out: bus data that is a JSON string
/// is sent as that string; any other JSON is sent as its text, in a string.
public enum PusherData {
    /// The bus form of a `data` member given as its raw JSON bytes (`raw`) and, when it is a string, its content.
    public static func busData(raw: ByteBuffer, content: String?) -> ByteBuffer {
        guard let content else { return raw }
        let trimmed = content.trimmingJSONWhitespace()
        if !trimmed.isEmpty, isJSON(trimmed) { return ByteBuffer(string: trimmed) }
        return raw
    }

    /// The bus form of a data string (an HTTP API body field, a test).
    public static func busData(string: String) -> ByteBuffer {
        self.busData(raw: JSONWriter.encodeString(string), content: string)
    }

    /// Writes bus data as the wire's `data` string: a JSON string as is, anything else as its text.
    public static func writeWire(_ data: ByteBuffer, to json: inout JSONWriter) {
        if Self.isJSONString(data) {
            json.raw(data)
        } else {
            json.string(String(buffer: data))
        }
    }

    /// The content of the wire's `data` string for bus data (webhooks carry it as a string).
    public static func wireString(_ data: ByteBuffer) -> String {
        guard Self.isJSONString(data) else { return String(buffer: data) }
        let wrapped = try? JSONObject(parsing: Self.wrap(data))
        return wrapped?.string("v") ?? String(buffer: data)
    }

    /// True when `data` (trimmed) is a JSON string literal.
    static func isJSONString(_ data: ByteBuffer) -> Bool {
        for byte in data.readableBytesView {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            default: return byte == UInt8(ascii: "\"")
            }
        }
        return false
    }

    /// True when `text` is one complete JSON value.
    public static func isJSON(_ text: String) -> Bool {
        // Exactly one member: `1,"channel":"x"` also parses once wrapped, and relayed raw it would add members to frames.
        (try? JSONObject(parsing: Self.wrap(ByteBuffer(string: text))))?.keys.count == 1
    }

    static func wrap(_ value: ByteBuffer) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: value.readableBytes + 6)
        buffer.writeStaticString("{\"v\":")
        var value = value
        buffer.writeBuffer(&value)
        buffer.writeStaticString("}")
        return buffer
    }
}

extension String {
    /// The string without leading and trailing JSON whitespace (space, tab, CR, LF).
    func trimmingJSONWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

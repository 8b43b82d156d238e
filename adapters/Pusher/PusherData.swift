public import NIOCore
public import SwitchboardAdapterKit

/// Maps event data between the Pusher wire, where `data` is a string, and the bus, where it is JSON.
///
/// In: a string whose content is itself JSON goes on the bus as that JSON; any other string goes as a JSON
/// string; a non-string value (some clients send objects) goes as it is. Out: the string that pusher-js's
/// parse-or-keep turns back into the bus value: a JSON string as its content, unless that content reads as JSON
/// (`"123"`), which goes quoted; any other JSON as its text.
public enum PusherData {
    /// The bus form of a `data` member given as its raw JSON bytes (`raw`) and, when it is a string, its content.
    public static func busData(raw: ByteBuffer, content: String?) -> ByteBuffer {
        guard let content else { return raw }
        guard Self.readsAsJSON(content) else { return raw }
        return ByteBuffer(string: content.trimmingJSONWhitespace())
    }

    /// The bus form of a data string (an HTTP API body field, a test).
    public static func busData(string: String) -> ByteBuffer {
        self.busData(raw: JSONWriter.encodeString(string), content: string)
    }

    /// Writes bus data as the wire's `data` string (see `wireString`); a JSON string that needs no quoting goes as it is.
    public static func writeWire(_ data: ByteBuffer, to json: inout JSONWriter) {
        if Self.isJSONString(data), let content = Self.stringContent(data), !Self.readsAsJSON(content) {
            json.raw(data)
        } else {
            json.string(Self.wireString(data))
        }
    }

    /// The content of the wire's `data` string for bus data (webhooks carry it as a string). A bus string whose content
    /// reads as JSON is sent as its JSON text: sent bare, a client would parse `"123"` into the number 123, which real
    /// Pusher, relaying a server's `json_encode('123')` as is, never does.
    public static func wireString(_ data: ByteBuffer) -> String {
        guard Self.isJSONString(data), let content = Self.stringContent(data) else { return String(buffer: data) }
        return Self.readsAsJSON(content) ? String(buffer: data).trimmingJSONWhitespace() : content
    }

    /// The decoded content of bus data that is a JSON string literal.
    static func stringContent(_ data: ByteBuffer) -> String? {
        (try? JSONObject(parsing: Self.wrap(data)))?.string("v")
    }

    /// True when a client's `JSON.parse` of `text` would succeed (it skips JSON whitespace around the value).
    static func readsAsJSON(_ text: String) -> Bool {
        let trimmed = text.trimmingJSONWhitespace()
        // Most text cannot start a JSON value; only what can is parsed.
        guard let first = trimmed.utf8.first, Self.jsonValueStarts.contains(first) else { return false }
        return Self.isJSON(trimmed)
    }

    /// The bytes a JSON value can start with: `{ [ " -`, a digit, or the `t` `f` `n` of `true`, `false`, `null`.
    static let jsonValueStarts = Set("{[\"-0123456789tfn".utf8)

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

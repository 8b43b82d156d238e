public import NIOCore

/// Appends JSON to a `ByteBuffer` without building an intermediate value, for frames on the hot path.
public struct JSONWriter {
    /// The bytes written so far.
    public var buffer: ByteBuffer
    private var needsComma = [false]

    /// Starts writing into a buffer of `capacity` bytes.
    public init(capacity: Int = 256) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    private mutating func separator() {
        if self.needsComma[self.needsComma.count - 1] {
            self.buffer.writeInteger(UInt8(ascii: ","))
        }
        self.needsComma[self.needsComma.count - 1] = true
    }

    /// Opens an object (as a value).
    public mutating func beginObject() {
        self.separator()
        self.buffer.writeInteger(UInt8(ascii: "{"))
        self.needsComma.append(false)
    }

    /// Closes the current object.
    public mutating func endObject() {
        self.needsComma.removeLast()
        self.buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// Opens an array (as a value).
    public mutating func beginArray() {
        self.separator()
        self.buffer.writeInteger(UInt8(ascii: "["))
        self.needsComma.append(false)
    }

    /// Closes the current array.
    public mutating func endArray() {
        self.needsComma.removeLast()
        self.buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// Writes a member name; the next write is its value.
    public mutating func key(_ name: String) {
        self.separator()
        Self.writeString(name, to: &self.buffer)
        self.buffer.writeInteger(UInt8(ascii: ":"))
        self.needsComma[self.needsComma.count - 1] = false
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        self.separator()
        Self.writeString(value, to: &self.buffer)
    }

    /// Writes an integer value.
    public mutating func integer<I: BinaryInteger>(_ value: I) {
        self.separator()
        self.buffer.writeString(String(value))
    }

    /// Writes a finite number (non-finite values, which JSON cannot hold, as `null`).
    public mutating func number(_ value: Double) {
        self.separator()
        let text = !value.isFinite ? "null" : value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        self.buffer.writeString(text)
    }

    /// Writes a boolean value.
    public mutating func bool(_ value: Bool) {
        self.separator()
        self.buffer.writeString(value ? "true" : "false")
    }

    /// Writes `null`.
    public mutating func null() {
        self.separator()
        self.buffer.writeString("null")
    }

    /// Writes already-valid JSON bytes as a value.
    public mutating func raw(_ json: ByteBuffer) {
        self.separator()
        var json = json
        self.buffer.writeBuffer(&json)
    }

    /// Writes a string member.
    public mutating func member(_ name: String, _ value: String) {
        self.key(name)
        self.string(value)
    }

    /// Writes an integer member.
    public mutating func member<I: BinaryInteger>(_ name: String, _ value: I) {
        self.key(name)
        self.integer(value)
    }

    /// Writes a number member.
    public mutating func member(_ name: String, _ value: Double) {
        self.key(name)
        self.number(value)
    }

    /// Writes a raw JSON member.
    public mutating func member(_ name: String, raw json: ByteBuffer) {
        self.key(name)
        self.raw(json)
    }

    /// Appends `value` as a JSON string literal, escaping what JSON requires.
    public static func writeString(_ value: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var utf8 = value.utf8
        let needsEscape = utf8.withContiguousStorageIfAvailable { bytes in
            bytes.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        }
        if needsEscape == false {
            buffer.writeString(value)
        } else {
            var string = value
            string.makeContiguousUTF8()
            utf8 = string.utf8
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0..<0x20:
                    let hex = String(byte, radix: 16)
                    buffer.writeString("\\u00" + (hex.count == 1 ? "0" : "") + hex)
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// The JSON string literal for `value`, as bytes.
    public static func encodeString(_ value: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: value.utf8.count + 2)
        writeString(value, to: &buffer)
        return buffer
    }
}

public import NIOCore

/// Splits a JSON array's bytes into its elements' bytes, for arrays of objects the object reader does not open.
///
/// Expects JSON that was already validated (a member read from a parsed `JSONObject`); returns nil when the
/// bytes are not an array.
public enum JSONArrayElements {
    /// The raw bytes of each top-level element of `array`, in order.
    public static func split(_ array: ByteBuffer) -> [ByteBuffer]? {
        let bytes = Array(array.readableBytesView)
        var index = 0
        func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        var elements: [ByteBuffer] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start: Int?
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                index += 1
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                break
            case UInt8(ascii: "\""):
                if start == nil { start = index }
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if start == nil { start = index }
                depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
            case UInt8(ascii: "]"):
                if depth == 0 {
                    if let begin = start { elements.append(Self.slice(bytes, begin, index)) }
                    return elements
                }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 0 {
                    guard let begin = start else { return nil }
                    elements.append(Self.slice(bytes, begin, index))
                    start = nil
                }
            default:
                if start == nil { start = index }
            }
            index += 1
        }
        return nil
    }

    static func slice(_ bytes: [UInt8], _ start: Int, _ end: Int) -> ByteBuffer {
        var last = end
        while last > start, bytes[last - 1] == 0x20 || bytes[last - 1] == 0x09 || bytes[last - 1] == 0x0A || bytes[last - 1] == 0x0D { last -= 1 }
        return ByteBuffer(bytes: bytes[start..<last])
    }
}

public import NIOCore

/// Splits a JSON array's bytes into its elements' bytes, for arrays of objects the object reader does not open.
///
/// Expects JSON that was already validated (a member read from a parsed `JSONObject`); returns nil when the bytes are
/// not an array. The elements are slices of the array's buffer, not copies.
public enum JSONArrayElements {
    /// The raw bytes of each top-level element of `array`, in order; at most `limit` of them, so a caller that bounds
    /// a batch splits no more than one past its bound.
    public static func split(_ array: ByteBuffer, limit: Int = .max) -> [ByteBuffer]? {
        let bytes = array.readableBytesView
        var index = bytes.startIndex
        while index < bytes.endIndex, Self.isSpace(bytes[index]) { index += 1 }
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        var elements: [ByteBuffer] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start: Int?
        func slice(to end: Int) -> ByteBuffer {
            var last = end
            while last > start!, Self.isSpace(bytes[last - 1]) { last -= 1 }
            return array.getSlice(at: array.readerIndex + start! - bytes.startIndex, length: last - start!)!
        }
        while index < bytes.endIndex, elements.count < limit {
            let byte = bytes[index]
            index += 1
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                break
            case UInt8(ascii: "\""):
                if start == nil { start = index - 1 }
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if start == nil { start = index - 1 }
                depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
            case UInt8(ascii: "]"):
                guard depth == 0 else {
                    depth -= 1
                    continue
                }
                if start != nil { elements.append(slice(to: index - 1)) }
                return elements
            case UInt8(ascii: ","):
                guard depth == 0 else { continue }
                guard start != nil else { return nil }
                elements.append(slice(to: index - 1))
                start = nil
            default:
                if start == nil { start = index - 1 }
            }
        }
        return elements.count == limit ? elements : nil
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
}

public import NIOCore

/// Splits a JSON array's bytes into its elements' bytes, for arrays of objects the object reader does not open.
///
/// Reads with the same validating scanner as `JSONObject`, so it accepts exactly the JSON that reader does; nil when the
/// bytes are not an array. The elements are slices of the array's buffer, not copies.
public enum JSONArrayElements {
    /// The raw bytes of each top-level element of `array`, in order; at most `limit` of them, so a caller that bounds
    /// a batch reads no more than one past its bound.
    public static func split(_ array: ByteBuffer, limit: Int = .max, maxDepth: Int = 64) -> [ByteBuffer]? {
        array.withUnsafeReadableBytes { bytes -> [ByteBuffer]? in
            var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
            var elements: [ByteBuffer] = []
            do {
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: "["))
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: "]") { return elements }
                while elements.count < limit {
                    scanner.skipWhitespace()
                    let start = scanner.index
                    try scanner.skipValue(depth: 1)
                    elements.append(array.getSlice(at: array.readerIndex + start, length: scanner.index - start)!)
                    scanner.skipWhitespace()
                    if scanner.peek() == UInt8(ascii: "]") { return elements }
                    try scanner.expect(UInt8(ascii: ","))
                }
                return elements
            } catch {
                return nil
            }
        }
    }
}

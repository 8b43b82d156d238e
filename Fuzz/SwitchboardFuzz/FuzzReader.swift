/// Reads structured values off the front of a fuzz input, for targets that build their inputs (channels, query
/// parameters) instead of parsing the bytes as they come; reads past the end give zeros and empty arrays.
struct FuzzReader {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    var isEmpty: Bool { self.bytes.isEmpty }

    /// The next byte, or 0 at the end.
    mutating func byte() -> UInt8 { self.bytes.popFirst() ?? 0 }

    /// The next eight bytes as a little-endian integer.
    mutating func uint64() -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, shift in value | UInt64(self.byte()) << (8 * UInt64(shift)) }
    }

    /// A length byte (below `limit`), then that many bytes.
    mutating func chunk(limit: Int) -> [UInt8] {
        let count = Int(self.byte()) % limit
        let taken = Array(self.bytes.prefix(count))
        self.bytes = self.bytes.dropFirst(count)
        return taken
    }

    /// A non-empty string of up to `limit` characters drawn from `alphabet`.
    mutating func word(from alphabet: [Character], limit: Int) -> String {
        let count = Int(self.byte()) % limit + 1
        return String((0..<count).map { _ in alphabet[Int(self.byte()) % alphabet.count] })
    }

    /// Whatever is left.
    mutating func rest() -> [UInt8] {
        defer { self.bytes = [] }
        return Array(self.bytes)
    }
}

public import NIOCore

/// The top-level members of a JSON object payload, read in one pass without building a tree.
///
/// Kit rules look at a few fields of a message (`status`, `lat`, `body`, `candidates`); the bus keeps payloads as bytes
/// and has no JSON library, so this reader decodes only the top level and keeps nested values as their raw bytes.
public struct KitPayload: Sendable {
    /// One top-level value.
    public enum Value: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        /// A nested object, as its bytes (parse it with `KitPayload(bytes:)`).
        case object([UInt8])
        /// An array and how many elements it has.
        case array(count: Int)
    }

    /// The members by name (the last one wins when a name repeats).
    public let members: [String: Value]

    /// Reads `buffer`; nil when it is not a well-formed JSON object.
    public init?(_ buffer: ByteBuffer) {
        self.init(bytes: Array(buffer.readableBytesView))
    }

    /// Reads `bytes`; nil when they are not a well-formed JSON object.
    public init?(bytes: [UInt8]) {
        var reader = Reader(bytes: bytes)
        guard let members = reader.topLevelObject() else { return nil }
        self.members = members
    }

    /// The string member `name`.
    public func string(_ name: String) -> String? {
        if case .string(let value) = self.members[name] { return value }
        return nil
    }

    /// The number member `name`.
    public func number(_ name: String) -> Double? {
        if case .number(let value) = self.members[name] { return value }
        return nil
    }

    /// The object member `name`, read.
    public func object(_ name: String) -> KitPayload? {
        if case .object(let bytes) = self.members[name] { return KitPayload(bytes: bytes) }
        return nil
    }

    /// How many elements the array member `name` has.
    public func arrayCount(_ name: String) -> Int? {
        if case .array(let count) = self.members[name] { return count }
        return nil
    }

    /// A cursor over the bytes; every method returns nil on malformed input.
    struct Reader {
        let bytes: [UInt8]
        var index = 0
        /// Deeper nesting than this is refused rather than followed.
        static let maxDepth = 64

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func topLevelObject() -> [String: Value]? {
            self.skipSpace()
            guard self.peek() == UInt8(ascii: "{") else { return nil }
            self.index += 1
            var members: [String: Value] = [:]
            self.skipSpace()
            if self.peek() == UInt8(ascii: "}") {
                self.index += 1
                return self.atEnd() ? members : nil
            }
            while true {
                self.skipSpace()
                guard let name = self.string() else { return nil }
                self.skipSpace()
                guard self.peek() == UInt8(ascii: ":") else { return nil }
                self.index += 1
                self.skipSpace()
                guard let value = self.value() else { return nil }
                members[name] = value
                self.skipSpace()
                switch self.peek() {
                case UInt8(ascii: ","): self.index += 1
                case UInt8(ascii: "}"):
                    self.index += 1
                    return self.atEnd() ? members : nil
                default: return nil
                }
            }
        }

        mutating func atEnd() -> Bool {
            self.skipSpace()
            return self.index == self.bytes.count
        }

        func peek() -> UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        mutating func skipSpace() {
            while let byte = self.peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { self.index += 1 }
        }

        mutating func value() -> Value? {
            switch self.peek() {
            case UInt8(ascii: "\""):
                return self.string().map(Value.string)
            case UInt8(ascii: "{"):
                let start = self.index
                guard self.skipNested(depth: 0) else { return nil }
                return .object(Array(self.bytes[start..<self.index]))
            case UInt8(ascii: "["):
                return self.arrayCount().map { Value.array(count: $0) }
            case UInt8(ascii: "t"):
                return self.literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"):
                return self.literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"):
                return self.literal("null") ? .null : nil
            default:
                return self.number().map(Value.number)
            }
        }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count else { return false }
            let matches = text.withUTF8Buffer { expected in (0..<count).allSatisfy { self.bytes[self.index + $0] == expected[$0] } }
            if matches { self.index += count }
            return matches
        }

        mutating func number() -> Double? {
            let start = self.index
            while let byte = self.peek(),
                (0x30...0x39).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            {
                self.index += 1
            }
            guard self.index > start, let value = Double(String(decoding: self.bytes[start..<self.index], as: UTF8.self)), value.isFinite else {
                return nil
            }
            return value
        }

        /// A string at the cursor, unescaped.
        mutating func string() -> String? {
            guard self.peek() == UInt8(ascii: "\"") else { return nil }
            self.index += 1
            var scalars: [UInt8] = []
            while let byte = self.peek() {
                self.index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: scalars, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = self.peek() else { return nil }
                    self.index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = self.unicodeEscape() else { return nil }
                        scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: return nil
                    }
                case 0x00..<0x20:
                    return nil
                default:
                    scalars.append(byte)
                }
            }
            return nil
        }

        /// The scalar of `XXXX` (after `\u`), joining a surrogate pair; nil for a lone surrogate.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let high = self.hex4() else { return nil }
            if (0xD800..<0xDC00).contains(high) {
                guard self.peek() == UInt8(ascii: "\\"), self.index + 1 < self.bytes.count, self.bytes[self.index + 1] == UInt8(ascii: "u") else {
                    return nil
                }
                self.index += 2
                guard let low = self.hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            }
            return Unicode.Scalar(high)
        }

        mutating func hex4() -> UInt32? {
            guard self.index + 4 <= self.bytes.count else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = self.bytes[self.index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: return nil
                }
                value = value << 4 | digit
                self.index += 1
            }
            return value
        }

        /// Counts the elements of the array at the cursor.
        mutating func arrayCount() -> Int? {
            self.index += 1
            self.skipSpace()
            if self.peek() == UInt8(ascii: "]") {
                self.index += 1
                return 0
            }
            var count = 0
            while true {
                self.skipSpace()
                guard self.skipValue(depth: 1) else { return nil }
                count += 1
                self.skipSpace()
                switch self.peek() {
                case UInt8(ascii: ","): self.index += 1
                case UInt8(ascii: "]"):
                    self.index += 1
                    return count
                default: return nil
                }
            }
        }

        mutating func skipValue(depth: Int) -> Bool {
            switch self.peek() {
            case UInt8(ascii: "{"), UInt8(ascii: "["): return self.skipNested(depth: depth)
            case UInt8(ascii: "\""): return self.string() != nil
            default: return self.value() != nil
            }
        }

        /// Skips the object or array at the cursor, checking its structure.
        mutating func skipNested(depth: Int) -> Bool {
            guard depth < Self.maxDepth, let open = self.peek() else { return false }
            let close = open == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            self.index += 1
            self.skipSpace()
            if self.peek() == close {
                self.index += 1
                return true
            }
            while true {
                self.skipSpace()
                if open == UInt8(ascii: "{") {
                    guard self.string() != nil else { return false }
                    self.skipSpace()
                    guard self.peek() == UInt8(ascii: ":") else { return false }
                    self.index += 1
                    self.skipSpace()
                }
                guard self.skipValue(depth: depth + 1) else { return false }
                self.skipSpace()
                guard let next = self.peek() else { return false }
                self.index += 1
                if next == close { return true }
                guard next == UInt8(ascii: ",") else { return false }
            }
        }
    }
}

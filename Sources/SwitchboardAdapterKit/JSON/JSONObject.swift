public import NIOCore

/// A validated top-level JSON object whose member values are kept as raw byte ranges.
///
/// Adapters read the few fields they route on and pass `data` through as the bytes the client
/// sent, so a payload is never decoded and re-encoded on its way through the bus.
public struct JSONObject: Sendable {
    /// Why a document was rejected.
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        /// What was wrong, for the protocol's `bad_request` message.
        public let message: String
        public var description: String { self.message }
    }

    /// The whole document.
    public let buffer: ByteBuffer
    private var members: [(key: String, range: Range<Int>)] = []

    /// Parses `buffer`, which must hold exactly one JSON object.
    public init(parsing buffer: ByteBuffer, maxDepth: Int = 64) throws(Error) {
        self.buffer = buffer
        var members: [(String, Range<Int>)] = []
        let result: Result<Void, Error> = buffer.withUnsafeReadableBytes { bytes in
            var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
            do {
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: "{"))
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: "}") {
                    scanner.index += 1
                } else {
                    while true {
                        scanner.skipWhitespace()
                        let key = try scanner.readString()
                        scanner.skipWhitespace()
                        try scanner.expect(UInt8(ascii: ":"))
                        scanner.skipWhitespace()
                        let start = scanner.index
                        try scanner.skipValue(depth: 1)
                        members.append((key, start..<scanner.index))
                        scanner.skipWhitespace()
                        if scanner.peek() == UInt8(ascii: ",") {
                            scanner.index += 1
                            continue
                        }
                        try scanner.expect(UInt8(ascii: "}"))
                        break
                    }
                }
                scanner.skipWhitespace()
                guard scanner.index == bytes.count else { throw Error(message: "trailing characters after the JSON object") }
                return .success(())
            } catch let error as Error {
                return .failure(error)
            } catch {
                return .failure(Error(message: "invalid JSON"))
            }
        }
        try result.get()
        self.members = members
    }

    /// True when the object has member `key`.
    public func has(_ key: String) -> Bool { self.range(key) != nil }

    private func range(_ key: String) -> Range<Int>? {
        self.members.last { $0.key == key }?.range
    }

    /// The raw JSON bytes of member `key`.
    public func raw(_ key: String) -> ByteBuffer? {
        guard let range = self.range(key) else { return nil }
        return self.buffer.getSlice(at: self.buffer.readerIndex + range.lowerBound, length: range.count)
    }

    /// True when member `key` is present and is `null`.
    public func isNull(_ key: String) -> Bool {
        guard let raw = self.raw(key) else { return false }
        return raw.readableBytesView.elementsEqual("null".utf8)
    }

    /// Member `key` as a string, when it is a JSON string.
    public func string(_ key: String) -> String? {
        guard let range = self.range(key) else { return nil }
        return self.buffer.withUnsafeReadableBytes { bytes in
            var scanner = JSONScanner(bytes: bytes, maxDepth: 1)
            scanner.index = range.lowerBound
            return try? scanner.readString()
        }
    }

    /// Member `key` as an integer, when it is a JSON number without fraction, or a string of digits.
    public func integer(_ key: String) -> Int64? {
        if let text = self.string(key) { return Int64(text) }
        guard let raw = self.raw(key) else { return nil }
        return Int64(String(buffer: raw))
    }

    /// Member `key` as a number.
    public func double(_ key: String) -> Double? {
        guard let raw = self.raw(key) else { return nil }
        return Double(String(buffer: raw))
    }

    /// Member `key` as a boolean.
    public func bool(_ key: String) -> Bool? {
        guard let raw = self.raw(key) else { return nil }
        switch String(buffer: raw) {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    /// Member `key` as an object.
    public func object(_ key: String) -> JSONObject? {
        guard let raw = self.raw(key), raw.readableBytesView.first == UInt8(ascii: "{") else { return nil }
        return try? JSONObject(parsing: raw)
    }

    /// Member `key` as an array of strings; nil when it is not one.
    public func strings(_ key: String) -> [String]? {
        guard let raw = self.raw(key) else { return nil }
        return raw.withUnsafeReadableBytes { bytes -> [String]? in
            var scanner = JSONScanner(bytes: bytes, maxDepth: 2)
            guard (try? scanner.expect(UInt8(ascii: "["))) != nil else { return nil }
            var result: [String] = []
            scanner.skipWhitespace()
            if scanner.peek() == UInt8(ascii: "]") { return result }
            while true {
                scanner.skipWhitespace()
                guard let value = try? scanner.readString() else { return nil }
                result.append(value)
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: ",") {
                    scanner.index += 1
                    continue
                }
                return scanner.peek() == UInt8(ascii: "]") ? result : nil
            }
        }
    }

    /// The member names, in document order.
    public var keys: [String] { self.members.map(\.key) }
}

/// A validating JSON reader over raw bytes; it skips values without building them.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var index = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func peek() -> UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(JSONObject.Error) {
        guard self.peek() == byte else {
            throw JSONObject.Error(message: "expected '\(Character(Unicode.Scalar(byte)))' at offset \(self.index)")
        }
        self.index += 1
    }

    mutating func skipValue(depth: Int) throws(JSONObject.Error) {
        guard depth <= self.maxDepth else { throw JSONObject.Error(message: "JSON nested too deeply") }
        guard let byte = self.peek() else { throw JSONObject.Error(message: "unexpected end of JSON") }
        switch byte {
        case UInt8(ascii: "{"):
            self.index += 1
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: "}") {
                self.index += 1
                return
            }
            while true {
                self.skipWhitespace()
                try self.skipString()
                self.skipWhitespace()
                try self.expect(UInt8(ascii: ":"))
                self.skipWhitespace()
                try self.skipValue(depth: depth + 1)
                self.skipWhitespace()
                if self.peek() == UInt8(ascii: ",") {
                    self.index += 1
                    continue
                }
                try self.expect(UInt8(ascii: "}"))
                return
            }
        case UInt8(ascii: "["):
            self.index += 1
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: "]") {
                self.index += 1
                return
            }
            while true {
                self.skipWhitespace()
                try self.skipValue(depth: depth + 1)
                self.skipWhitespace()
                if self.peek() == UInt8(ascii: ",") {
                    self.index += 1
                    continue
                }
                try self.expect(UInt8(ascii: "]"))
                return
            }
        case UInt8(ascii: "\""):
            try self.skipString()
        case UInt8(ascii: "t"):
            try self.literal("true")
        case UInt8(ascii: "f"):
            try self.literal("false")
        case UInt8(ascii: "n"):
            try self.literal("null")
        default:
            try self.skipNumber()
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONObject.Error) {
        let count = word.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw JSONObject.Error(message: "unexpected end of JSON") }
        for i in 0..<count where self.bytes[self.index + i] != word.utf8Start[i] {
            throw JSONObject.Error(message: "invalid literal at offset \(self.index)")
        }
        self.index += count
    }

    mutating func skipNumber() throws(JSONObject.Error) {
        let start = self.index
        if self.peek() == UInt8(ascii: "-") { self.index += 1 }
        guard let first = self.peek(), first >= 0x30, first <= 0x39 else {
            throw JSONObject.Error(message: "invalid value at offset \(start)")
        }
        if first == 0x30 {
            self.index += 1
        } else {
            self.skipDigits()
        }
        if self.peek() == UInt8(ascii: ".") {
            self.index += 1
            guard self.skipDigits() > 0 else { throw JSONObject.Error(message: "invalid number at offset \(start)") }
        }
        if self.peek() == UInt8(ascii: "e") || self.peek() == UInt8(ascii: "E") {
            self.index += 1
            if self.peek() == UInt8(ascii: "+") || self.peek() == UInt8(ascii: "-") { self.index += 1 }
            guard self.skipDigits() > 0 else { throw JSONObject.Error(message: "invalid number at offset \(start)") }
        }
    }

    @discardableResult
    mutating func skipDigits() -> Int {
        let start = self.index
        while let byte = self.peek(), byte >= 0x30, byte <= 0x39 { self.index += 1 }
        return self.index - start
    }

    /// Skips one string, checking it on the way: its bytes are valid UTF-8 (no overlong forms, no encoded surrogates,
    /// nothing past U+10FFFF), its escapes are JSON's, and a `\u` surrogate escape is one half of a pair.
    mutating func skipString() throws(JSONObject.Error) {
        try self.expect(UInt8(ascii: "\""))
        let count = self.bytes.count
        while self.index < count {
            let byte = self.bytes[self.index]
            // The common case: printable ASCII.
            if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                self.index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return
            case UInt8(ascii: "\\"):
                try self.skipEscape()
            case 0..<0x20:
                throw JSONObject.Error(message: "control character in string at offset \(self.index)")
            default:
                try self.skipUTF8Sequence()
            }
        }
        throw JSONObject.Error(message: "unterminated string")
    }

    /// Skips the escape at `index` (its backslash included).
    mutating func skipEscape() throws(JSONObject.Error) {
        guard self.index + 1 < self.bytes.count else { throw JSONObject.Error(message: "unterminated string") }
        let escaped = self.bytes[self.index + 1]
        guard escaped == UInt8(ascii: "u") else {
            guard "\"\\/bfnrt".utf8.contains(escaped) else { throw JSONObject.Error(message: "invalid escape at offset \(self.index)") }
            self.index += 2
            return
        }
        let value = try self.hexEscape(at: self.index)
        self.index += 6
        switch value {
        case 0xD800..<0xDC00:
            guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"), self.bytes[self.index + 1] == UInt8(ascii: "u"),
                (0xDC00..<0xE000).contains(try self.hexEscape(at: self.index))
            else { throw JSONObject.Error(message: "unpaired surrogate escape at offset \(self.index - 6)") }
            self.index += 6
        case 0xDC00..<0xE000:
            throw JSONObject.Error(message: "unpaired surrogate escape at offset \(self.index - 6)")
        default:
            break
        }
    }

    /// The value of the `\uXXXX` escape whose backslash is at `offset`.
    func hexEscape(at offset: Int) throws(JSONObject.Error) -> UInt32 {
        guard offset + 6 <= self.bytes.count else { throw JSONObject.Error(message: "invalid \\u escape at offset \(offset)") }
        var value: UInt32 = 0
        for k in 2..<6 {
            guard let digit = HexDigit.value(self.bytes[offset + k]) else {
                throw JSONObject.Error(message: "invalid \\u escape at offset \(offset)")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Skips the multi-byte UTF-8 sequence at `index`, refusing anything Unicode's well-formed table does not allow.
    mutating func skipUTF8Sequence() throws(JSONObject.Error) {
        guard let length = UTF8Validation.sequenceLength(self.bytes, at: self.index) else {
            throw JSONObject.Error(message: "invalid UTF-8 at offset \(self.index)")
        }
        self.index += length
    }

    mutating func readString() throws(JSONObject.Error) -> String {
        let start = self.index
        try self.skipString()
        let body = UnsafeRawBufferPointer(rebasing: self.bytes[(start + 1)..<(self.index - 1)])
        if !body.contains(UInt8(ascii: "\\")) {
            return String(decoding: body, as: UTF8.self)
        }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var i = 0
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        var pendingHigh: UInt32?
        while i < body.count {
            let byte = body[i]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                i += 1
                continue
            }
            let escaped = body[i + 1]
            i += 2
            switch escaped {
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "u"):
                var value: UInt32 = 0
                for k in 0..<4 { value = value << 4 | UInt32(HexDigit.value(body[i + k]) ?? 0) }
                i += 4
                flush()
                if (0xD800..<0xDC00).contains(value) {
                    pendingHigh = value
                } else if (0xDC00..<0xE000).contains(value), let high = pendingHigh {
                    let combined = 0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00)
                    scalars.append(Unicode.Scalar(combined) ?? "\u{FFFD}")
                    pendingHigh = nil
                } else {
                    scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
                }
            default: utf8.append(escaped)
            }
        }
        flush()
        return String(scalars)
    }

}

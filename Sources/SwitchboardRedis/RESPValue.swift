public import NIOCore

/// One value of the Redis serialization protocol, RESP2 or RESP3.
///
/// RESP2 has simple strings, errors, integers, bulk strings and arrays (either may be null);
/// RESP3 adds null, booleans, doubles, big numbers, blob errors, verbatim strings, maps, sets and pushes.
public enum RESPValue: Sendable, Equatable {
    /// `+OK\r\n`
    case simpleString(ByteBuffer)
    /// `-ERR message\r\n`, or RESP3's blob error `!<len>\r\n...\r\n`.
    case error(ByteBuffer)
    /// `:42\r\n`
    case integer(Int64)
    /// `$5\r\nhello\r\n`; nil for RESP2's null bulk string `$-1\r\n`.
    case bulkString(ByteBuffer?)
    /// `*2\r\n...`; nil for RESP2's null array `*-1\r\n`.
    case array([RESPValue]?)
    /// RESP3 `_\r\n`.
    case null
    /// RESP3 `#t\r\n` / `#f\r\n`.
    case boolean(Bool)
    /// RESP3 `,3.14\r\n` (also `inf`, `-inf`, `nan`).
    case double(Double)
    /// RESP3 `(3492890328409238509324850943850943825024385\r\n`, kept as its digits.
    case bigNumber(ByteBuffer)
    /// RESP3 `=15\r\ntxt:Some string\r\n`: a three-letter format and the text.
    case verbatimString(format: String, text: ByteBuffer)
    /// RESP3 `%2\r\n...`: key/value pairs in wire order.
    case map([RESPPair])
    /// RESP3 `~3\r\n...`
    case set([RESPValue])
    /// RESP3 `>3\r\n...`: out-of-band data such as pub/sub messages.
    case push([RESPValue])
}

/// One entry of a RESP3 map.
public struct RESPPair: Sendable, Equatable {
    /// The key.
    public var key: RESPValue
    /// The value.
    public var value: RESPValue

    /// Creates a pair.
    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension RESPValue {
    /// A bulk string holding `text`'s UTF-8 bytes.
    public static func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

    /// True for RESP2's null bulk string and null array, and RESP3's null.
    public var isNull: Bool {
        switch self {
        case .null, .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// The bytes of a simple, bulk or verbatim string.
    public var bytes: ByteBuffer? {
        switch self {
        case .simpleString(let b), .bulkString(.some(let b)), .verbatimString(_, let b): b
        default: nil
        }
    }

    /// The text of a simple, bulk or verbatim string, or an integer's decimal form.
    public var string: String? {
        if case .integer(let value) = self { return String(value) }
        return self.bytes.map { String(buffer: $0) }
    }

    /// An integer, or a string holding one.
    public var int: Int64? {
        if case .integer(let value) = self { return value }
        return self.string.flatMap { Int64($0) }
    }

    /// The elements of an array, set or push.
    public var elements: [RESPValue]? {
        switch self {
        case .array(.some(let values)), .set(let values), .push(let values): values
        default: nil
        }
    }

    /// Appends this value's wire form to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .simpleString(let b): Self.writeLine(UInt8(ascii: "+"), b, into: &buffer)
        case .error(let b): Self.writeLine(UInt8(ascii: "-"), b, into: &buffer)
        case .integer(let value): Self.writeLine(UInt8(ascii: ":"), ByteBuffer(string: String(value)), into: &buffer)
        case .bulkString(nil): buffer.writeString("$-1\r\n")
        case .bulkString(.some(let b)): Self.writeBlob(UInt8(ascii: "$"), b, into: &buffer)
        case .array(nil): buffer.writeString("*-1\r\n")
        case .array(.some(let values)): Self.writeAggregate(UInt8(ascii: "*"), values, into: &buffer)
        case .null: buffer.writeString("_\r\n")
        case .boolean(let value): buffer.writeString(value ? "#t\r\n" : "#f\r\n")
        case .double(let value):
            let text = value.isNaN ? "nan" : value == .infinity ? "inf" : value == -.infinity ? "-inf" : String(value)
            Self.writeLine(UInt8(ascii: ","), ByteBuffer(string: text), into: &buffer)
        case .bigNumber(let b): Self.writeLine(UInt8(ascii: "("), b, into: &buffer)
        case .verbatimString(let format, let text):
            var body = ByteBuffer(string: format + ":")
            var copy = text
            body.writeBuffer(&copy)
            Self.writeBlob(UInt8(ascii: "="), body, into: &buffer)
        case .map(let pairs):
            buffer.writeString("%\(pairs.count)\r\n")
            for pair in pairs {
                pair.key.write(into: &buffer)
                pair.value.write(into: &buffer)
            }
        case .set(let values): Self.writeAggregate(UInt8(ascii: "~"), values, into: &buffer)
        case .push(let values): Self.writeAggregate(UInt8(ascii: ">"), values, into: &buffer)
        }
    }

    private static func writeLine(_ type: UInt8, _ body: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        var copy = body
        buffer.writeBuffer(&copy)
        buffer.writeString("\r\n")
    }

    private static func writeBlob(_ type: UInt8, _ body: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeString("\(body.readableBytes)\r\n")
        var copy = body
        buffer.writeBuffer(&copy)
        buffer.writeString("\r\n")
    }

    private static func writeAggregate(_ type: UInt8, _ values: [RESPValue], into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeString("\(values.count)\r\n")
        for value in values { value.write(into: &buffer) }
    }
}

/// A command as Redis expects it from a client: an array of bulk strings.
///
/// ```swift
/// var command = RedisCommand("SET", "greeting")
/// command.append(ByteBuffer(string: "hello"))
/// ```
public struct RedisCommand: Sendable {
    /// The command name and its arguments, as bytes.
    public private(set) var parts: [ByteBuffer]

    /// A command from text parts.
    public init(_ parts: String...) { self.parts = parts.map { ByteBuffer(string: $0) } }

    /// A command from text parts.
    public init(_ parts: [String]) { self.parts = parts.map { ByteBuffer(string: $0) } }

    /// Appends a binary argument.
    public mutating func append(_ argument: ByteBuffer) { self.parts.append(argument) }

    /// Appends a text argument.
    public mutating func append(_ argument: String) { self.parts.append(ByteBuffer(string: argument)) }

    /// The command's name, upper-cased, for logs and errors.
    public var name: String { self.parts.first.map { String(buffer: $0).uppercased() } ?? "" }

    /// Appends the command's wire form (`*N` then `$len` bulk strings) to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeString("*\(self.parts.count)\r\n")
        for part in self.parts {
            buffer.writeString("$\(part.readableBytes)\r\n")
            var copy = part
            buffer.writeBuffer(&copy)
            buffer.writeString("\r\n")
        }
    }
}

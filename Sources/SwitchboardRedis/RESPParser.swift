public import NIOCore

/// Why bytes from Redis could not be parsed; the connection that saw them must be closed.
public struct RESPParserError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case unknownType(UInt8)
        case badInteger
        case badLength
        case missingTerminator
        case lineTooLong(Int)
        case bulkTooLong(Int)
        case aggregateTooLong(Int)
        case tooDeep(Int)
    }

    private let kind: Kind

    /// A value began with a byte that is no RESP type.
    public static func unknownType(_ byte: UInt8) -> Self { Self(kind: .unknownType(byte)) }
    /// An integer or length was not a decimal number.
    public static let badInteger = Self(kind: .badInteger)
    /// A length was negative (other than the null `-1`).
    public static let badLength = Self(kind: .badLength)
    /// A blob was not followed by `\r\n`.
    public static let missingTerminator = Self(kind: .missingTerminator)
    /// A line ran past the parser's `maxLineLength` without `\r\n`.
    public static func lineTooLong(_ limit: Int) -> Self { Self(kind: .lineTooLong(limit)) }
    /// A bulk string was longer than the parser's `maxBulkLength`.
    public static func bulkTooLong(_ limit: Int) -> Self { Self(kind: .bulkTooLong(limit)) }
    /// An array, map, set or push had more elements than the parser's `maxAggregateCount`.
    public static func aggregateTooLong(_ limit: Int) -> Self { Self(kind: .aggregateTooLong(limit)) }
    /// Aggregates nested deeper than the parser's `maxDepth`.
    public static func tooDeep(_ limit: Int) -> Self { Self(kind: .tooDeep(limit)) }

    public var description: String {
        switch self.kind {
        case .unknownType(let byte): "unknown RESP type byte 0x\(String(byte, radix: 16))"
        case .badInteger: "malformed RESP integer"
        case .badLength: "negative RESP length"
        case .missingTerminator: "RESP blob not terminated by CRLF"
        case .lineTooLong(let limit): "RESP line longer than \(limit) bytes"
        case .bulkTooLong(let limit): "RESP bulk string longer than \(limit) bytes"
        case .aggregateTooLong(let limit): "RESP aggregate with more than \(limit) elements"
        case .tooDeep(let limit): "RESP aggregates nested deeper than \(limit)"
        }
    }
}

/// Parses RESP2 and RESP3 values from a byte stream that arrives in arbitrary pieces.
///
/// `next(from:)` returns a value only once all its bytes are there; until then it returns nil and leaves
/// the buffer untouched, so the caller appends the next read and asks again. RESP3 attributes (`|`) are
/// read and dropped: the value they annotate is returned.
///
/// ```swift
/// var parser = RESPParser()
/// var buffer = ByteBuffer(string: "+OK\r\n:4")
/// try parser.next(from: &buffer)  // .simpleString("OK")
/// try parser.next(from: &buffer)  // nil: ":4" has no CRLF yet
/// ```
public struct RESPParser: Sendable {
    /// The longest simple line (simple string, error, number) accepted, in bytes.
    public let maxLineLength: Int
    /// The longest bulk string, blob error or verbatim string accepted, in bytes.
    public let maxBulkLength: Int
    /// The most elements an array, set, push or map (pairs) may have.
    public let maxAggregateCount: Int
    /// How deeply aggregates may nest.
    public let maxDepth: Int

    /// Creates a parser with the given limits (defaults suit a client: Redis's own bulk limit is 512 MB).
    public init(maxLineLength: Int = 64 * 1024, maxBulkLength: Int = 64 * 1024 * 1024, maxAggregateCount: Int = 1_048_576, maxDepth: Int = 32) {
        self.maxLineLength = maxLineLength
        self.maxBulkLength = maxBulkLength
        self.maxAggregateCount = maxAggregateCount
        self.maxDepth = maxDepth
    }

    /// The next complete value in `buffer`, consuming its bytes; nil (consuming nothing) when it is incomplete.
    public func next(from buffer: inout ByteBuffer) throws(RESPParserError) -> RESPValue? {
        var index = buffer.readerIndex
        guard let value = try self.value(in: buffer, at: &index, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: index)
        return value
    }

    private func value(in buffer: ByteBuffer, at index: inout Int, depth: Int) throws(RESPParserError) -> RESPValue? {
        guard depth <= self.maxDepth else { throw .tooDeep(self.maxDepth) }
        guard let type = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        var cursor = index + 1
        guard let line = try self.line(in: buffer, at: &cursor) else { return nil }
        let result: RESPValue?
        switch type {
        case UInt8(ascii: "+"): result = .simpleString(line)
        case UInt8(ascii: "-"): result = .error(line)
        case UInt8(ascii: ":"): result = .integer(try Self.integer(line))
        case UInt8(ascii: "("): result = .bigNumber(line)
        case UInt8(ascii: "_"): result = .null
        case UInt8(ascii: "#"):
            switch String(buffer: line) {
            case "t": result = .boolean(true)
            case "f": result = .boolean(false)
            default: throw .badInteger
            }
        case UInt8(ascii: ","):
            let text = String(buffer: line)
            switch text {
            case "inf", "+inf": result = .double(.infinity)
            case "-inf": result = .double(-.infinity)
            case "nan", "-nan": result = .double(.nan)
            default:
                guard let value = Double(text) else { throw .badInteger }
                result = .double(value)
            }
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try Self.integer(line)
            if length == -1 && type == UInt8(ascii: "$") {
                result = .bulkString(nil)
                break
            }
            guard length >= 0 else { throw .badLength }
            guard length <= self.maxBulkLength else { throw .bulkTooLong(self.maxBulkLength) }
            let count = Int(length)
            guard buffer.writerIndex - cursor >= count + 2 else { return nil }
            guard buffer.getInteger(at: cursor + count, as: UInt16.self) == 0x0D0A else { throw .missingTerminator }
            let blob = buffer.getSlice(at: cursor, length: count)!
            cursor += count + 2
            switch type {
            case UInt8(ascii: "$"): result = .bulkString(blob)
            case UInt8(ascii: "!"): result = .error(blob)
            default:
                // `fmt:text`: three format characters and a colon.
                guard count >= 4 else { throw .badLength }
                let format = String(buffer: blob.getSlice(at: blob.readerIndex, length: 3)!)
                result = .verbatimString(format: format, text: blob.getSlice(at: blob.readerIndex + 4, length: count - 4)!)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let length = try Self.integer(line)
            if length == -1 && type == UInt8(ascii: "*") {
                result = .array(nil)
                break
            }
            guard length >= 0 else { throw .badLength }
            guard length <= self.maxAggregateCount else { throw .aggregateTooLong(self.maxAggregateCount) }
            let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(length) * (isPairs ? 2 : 1), 1024))
            for _ in 0..<(Int(length) * (isPairs ? 2 : 1)) {
                guard let element = try self.value(in: buffer, at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            switch type {
            case UInt8(ascii: "*"): result = .array(elements)
            case UInt8(ascii: "~"): result = .set(elements)
            case UInt8(ascii: ">"): result = .push(elements)
            case UInt8(ascii: "%"):
                result = .map(stride(from: 0, to: elements.count, by: 2).map { RESPPair(key: elements[$0], value: elements[$0 + 1]) })
            default:
                // An attribute annotates the value after it; the annotation is dropped.
                // One level deeper, so a chain of attributes meets maxDepth instead of recursing without bound.
                guard let annotated = try self.value(in: buffer, at: &cursor, depth: depth + 1) else { return nil }
                result = annotated
            }
        default:
            throw .unknownType(type)
        }
        index = cursor
        return result
    }

    /// The bytes up to the next CRLF from `index`, moving `index` past it; nil when no CRLF has arrived yet.
    private func line(in buffer: ByteBuffer, at index: inout Int) throws(RESPParserError) -> ByteBuffer? {
        let available = buffer.writerIndex - index
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            let start = index - buffer.readerIndex
            let end = min(bytes.count, start + self.maxLineLength + 2)
            var position = start
            while position + 1 < end {
                if bytes[position] == 0x0D && bytes[position + 1] == 0x0A { return position - start }
                position += 1
            }
            return nil
        }
        guard let length = found else {
            if available >= self.maxLineLength + 2 { throw .lineTooLong(self.maxLineLength) }
            return nil
        }
        let line = buffer.getSlice(at: index, length: length)!
        index += length + 2
        return line
    }

    private static func integer(_ line: ByteBuffer) throws(RESPParserError) -> Int64 {
        var negative = false
        var value: Int64 = 0
        var digits = 0
        for (position, byte) in line.readableBytesView.enumerated() {
            if position == 0 && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")) {
                negative = byte == UInt8(ascii: "-")
                continue
            }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { throw .badInteger }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw .badInteger }
            value = sum
            digits += 1
        }
        guard digits > 0 else { throw .badInteger }
        return negative ? -value : value
    }
}

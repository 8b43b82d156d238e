import NIOCore
import SwitchboardRedis

/// The Redis reply parser (`RESPParser`), which reads RESP2/RESP3 as it arrives in arbitrary pieces.
enum RESPParserFuzzCheck {
    static let target = FuzzTarget(
        name: "resp",
        maxLength: 4096,
        summary: "RESPParser: a value consumes exactly the bytes it reports, within the buffer, and nothing on an error or an "
            + "incomplete value; the bytes fed in pieces give the same values and errors as all at once; each value written "
            + "back in canonical form parses to itself, and every proper prefix of that form is incomplete (not an error); "
            + "attributes count toward the depth limit",
        check: { input throws(FuzzFailure) in try check(input) }
    )

    /// Small limits, so the fuzzer reaches every refusal.
    static let parser = RESPParser(maxLineLength: 128, maxBulkLength: 512, maxAggregateCount: 32, maxDepth: 6)

    /// What one call of `next(from:)` gave.
    enum Outcome: Equatable {
        /// A value (in canonical form) and how many bytes it consumed.
        case value([UInt8], consumed: Int)
        /// Bytes were left that do not yet make a value.
        case incomplete
        case failure(String)
    }

    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let whole = try parse(input, pieces: [input.count])
        let first = Int(input.first ?? 0)
        let sizes = [1, 2, 5, 11, 64, 257]
        let pieces = try parse(input, pieces: (0..<input.count).map { sizes[($0 + first) % sizes.count] })
        try require(whole == pieces, "all at once gave \(whole), in pieces \(pieces)")

        // Attributes count toward the depth limit, so a chain of them cannot recurse without bound.
        var chained = ByteBuffer()
        for _ in 0...parser.maxDepth { chained.writeString("|0\r\n") }
        chained.writeBytes(input)
        let result = Result { () throws(RESPParserError) in try parser.next(from: &chained) }
        guard case .failure(let error) = result, error == .tooDeep(parser.maxDepth) else {
            throw FuzzFailure("\(parser.maxDepth + 1) nested attributes before the input gave \(result), not tooDeep")
        }

        for case .value(let canonical, _) in whole {
            var buffer = ByteBuffer(bytes: canonical)
            let again: RESPValue?
            do {
                again = try parser.next(from: &buffer)
            } catch {
                throw FuzzFailure("the canonical form \(show(canonical)) is refused: \(error)")
            }
            guard let again else { throw FuzzFailure("the canonical form \(show(canonical)) is incomplete") }
            try require(buffer.readableBytes == 0, "the canonical form \(show(canonical)) left \(buffer.readableBytes) bytes")
            try require(encode(again) == canonical, "\(show(canonical)) parses to \(show(encode(again)))")
            for length in Set([0, 1, canonical.count / 2, canonical.count - 1]) where length < canonical.count {
                var prefix = ByteBuffer(bytes: canonical[..<length])
                let result = Result { () throws(RESPParserError) in try parser.next(from: &prefix) }
                guard case .success(nil) = result, prefix.readerIndex == 0 else {
                    throw FuzzFailure("the first \(length) bytes of \(show(canonical)) gave \(result) instead of waiting")
                }
            }
        }
    }

    /// Feeds `input` in pieces of the given sizes, reading every value as soon as it is complete.
    static func parse(_ input: [UInt8], pieces: [Int]) throws(FuzzFailure) -> [Outcome] {
        var buffer = ByteBuffer()
        var outcomes: [Outcome] = []
        var fed = 0
        var piece = 0
        while true {
            while true {
                let before = buffer.readerIndex
                let readable = buffer.readableBytes
                let result = Result { () throws(RESPParserError) in try parser.next(from: &buffer) }
                switch result {
                case .success(let value?):
                    let consumed = buffer.readerIndex - before
                    try require(consumed > 0 && consumed <= readable, "a value consumed \(consumed) of \(readable) bytes")
                    outcomes.append(.value(encode(value), consumed: consumed))
                    continue
                case .success(nil):
                    try require(buffer.readerIndex == before, "an incomplete value moved the reader index")
                case .failure(let error):
                    try require(buffer.readerIndex == before, "an error moved the reader index")
                    outcomes.append(.failure("\(error)"))
                    return outcomes
                }
                break
            }
            guard fed < input.count else {
                if buffer.readableBytes > 0 { outcomes.append(.incomplete) }
                return outcomes
            }
            let size = min(pieces[piece % pieces.count], input.count - fed)
            buffer.writeBytes(input[fed..<(fed + size)])
            fed += size
            piece += 1
        }
    }

    /// One canonical wire form per value: errors as blob errors, doubles in Swift's round-tripping form.
    static func encode(_ value: RESPValue) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    static func encode(_ value: RESPValue, into out: inout [UInt8]) {
        func line(_ type: Character, _ body: some Sequence<UInt8>) {
            out.append(type.asciiValue!)
            out.append(contentsOf: body)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        func blob(_ type: Character, _ body: [UInt8]) {
            line(type, "\(body.count)".utf8)
            out.append(contentsOf: body)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        func aggregate(_ type: Character, _ values: [RESPValue]) {
            line(type, "\(values.count)".utf8)
            for value in values { encode(value, into: &out) }
        }
        switch value {
        case .simpleString(let bytes): line("+", bytes.readableBytesView)
        case .error(let bytes): blob("!", Array(bytes.readableBytesView))
        case .integer(let number): line(":", "\(number)".utf8)
        case .bulkString(nil): line("$", "-1".utf8)
        case .bulkString(.some(let bytes)): blob("$", Array(bytes.readableBytesView))
        case .array(nil): line("*", "-1".utf8)
        case .array(.some(let values)): aggregate("*", values)
        case .null: line("_", [])
        case .boolean(let flag): line("#", (flag ? "t" : "f").utf8)
        case .double(let number):
            let text = number.isNaN ? "nan" : number == .infinity ? "inf" : number == -.infinity ? "-inf" : "\(number)"
            line(",", text.utf8)
        case .bigNumber(let bytes): line("(", bytes.readableBytesView)
        case .verbatimString(let format, let text):
            // The format is three bytes on the wire; a lossy decoding of invalid UTF-8 is cut back to three.
            let formatBytes = Array(format.utf8.prefix(3)) + Array(repeating: UInt8(ascii: "?"), count: max(0, 3 - format.utf8.count))
            blob("=", formatBytes + [UInt8(ascii: ":")] + Array(text.readableBytesView))
        case .map(let pairs):
            line("%", "\(pairs.count)".utf8)
            for pair in pairs {
                encode(pair.key, into: &out)
                encode(pair.value, into: &out)
            }
        case .set(let values): aggregate("~", values)
        case .push(let values): aggregate(">", values)
        }
    }
}

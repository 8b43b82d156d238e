import NIOCore
import Testing

@testable import SwitchboardRedis

@Suite("RESP parser")
struct RESPParserTests {
    let parser = RESPParser()

    func parseAll(_ text: String, parser: RESPParser = RESPParser()) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try parser.next(from: &buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0)
        return values
    }

    @Test func resp2TypesParseByteExact() throws {
        let values = try self.parseAll("+OK\r\n-ERR unknown command\r\n:1000\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n")
        #expect(
            values == [
                .simpleString(ByteBuffer(string: "OK")), .error(ByteBuffer(string: "ERR unknown command")), .integer(1000), .integer(-42),
                .bulk("hello"), .bulk(""), .bulkString(nil), .array(nil), .array([]),
            ]
        )
    }

    @Test func nestedArrayWithBinaryBulkString() throws {
        var buffer = ByteBuffer(string: "*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$4\r\n")
        buffer.writeBytes([0x00, 0x0D, 0x0A, 0xFF])
        buffer.writeString("\r\n")
        let value = try #require(try self.parser.next(from: &buffer))
        #expect(value == .array([.bulk("message"), .bulk("t"), .bulkString(ByteBuffer(bytes: [0x00, 0x0D, 0x0A, 0xFF]))]))
    }

    @Test func resp3TypesParseByteExact() throws {
        let text =
            "_\r\n#t\r\n#f\r\n,3.25\r\n,inf\r\n,-inf\r\n(3492890328409238509324850943850943825024385\r\n!21\r\nSYNTAX invalid syntax\r\n"
            + "=15\r\ntxt:Some string\r\n%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n~2\r\n+a\r\n+b\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        let values = try self.parseAll(text)
        #expect(values.count == 12)
        #expect(values[0] == .null)
        #expect(values[1] == .boolean(true))
        #expect(values[2] == .boolean(false))
        #expect(values[3] == .double(3.25))
        #expect(values[4] == .double(.infinity))
        #expect(values[5] == .double(-.infinity))
        #expect(values[6] == .bigNumber(ByteBuffer(string: "3492890328409238509324850943850943825024385")))
        #expect(values[7] == .error(ByteBuffer(string: "SYNTAX invalid syntax")))
        #expect(values[8] == .verbatimString(format: "txt", text: ByteBuffer(string: "Some string")))
        #expect(
            values[9]
                == .map([
                    RESPPair(key: .simpleString(ByteBuffer(string: "first")), value: .integer(1)),
                    RESPPair(key: .simpleString(ByteBuffer(string: "second")), value: .integer(2)),
                ])
        )
        #expect(values[10] == .set([.simpleString(ByteBuffer(string: "a")), .simpleString(ByteBuffer(string: "b"))]))
        #expect(values[11] == .push([.bulk("message"), .bulk("ch"), .bulk("hi")]))
    }

    @Test func attributesAreDroppedAndTheAnnotatedValueReturned() throws {
        let values = try self.parseAll("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*1\r\n:2039123\r\n")
        #expect(values == [.array([.integer(2_039_123)])])
    }

    @Test func everySplitPointYieldsTheSameValues() throws {
        let text = "*2\r\n$3\r\nfoo\r\n%1\r\n+k\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n"
        let expected = try self.parseAll(text)
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var values: [RESPValue] = []
            while let value = try self.parser.next(from: &buffer) { values.append(value) }
            buffer.writeBytes(bytes[split...])
            while let value = try self.parser.next(from: &buffer) { values.append(value) }
            #expect(values == expected, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func byteByByteFeedingParsesWithoutConsumingPartialValues() throws {
        let bytes = Array("$11\r\nhello world\r\n:7\r\n".utf8)
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            let before = buffer.readerIndex
            if let value = try self.parser.next(from: &buffer) {
                values.append(value)
            } else {
                #expect(buffer.readerIndex == before)
            }
        }
        #expect(values == [.bulk("hello world"), .integer(7)])
    }

    @Test func limitsAreEnforced() {
        let small = RESPParser(maxLineLength: 8, maxBulkLength: 4, maxAggregateCount: 2, maxDepth: 2)
        var line = ByteBuffer(string: "+0123456789AB")
        #expect(throws: RESPParserError.lineTooLong(8)) { try small.next(from: &line) }
        var bulk = ByteBuffer(string: "$5\r\nhello\r\n")
        #expect(throws: RESPParserError.bulkTooLong(4)) { try small.next(from: &bulk) }
        var array = ByteBuffer(string: "*3\r\n")
        #expect(throws: RESPParserError.aggregateTooLong(2)) { try small.next(from: &array) }
        var deep = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPParserError.tooDeep(2)) { try small.next(from: &deep) }
    }

    @Test func malformedInputIsRejected() {
        var badType = ByteBuffer(string: "?x\r\n")
        #expect(throws: RESPParserError.unknownType(UInt8(ascii: "?"))) { try self.parser.next(from: &badType) }
        var badInteger = ByteBuffer(string: ":12a\r\n")
        #expect(throws: RESPParserError.badInteger) { try self.parser.next(from: &badInteger) }
        var badTerminator = ByteBuffer(string: "$2\r\nabXY")
        #expect(throws: RESPParserError.missingTerminator) { try self.parser.next(from: &badTerminator) }
        var negative = ByteBuffer(string: "$-2\r\n")
        #expect(throws: RESPParserError.badLength) { try self.parser.next(from: &negative) }
    }

    @Test func valuesWriteBackToTheSameBytes() throws {
        let text = "+OK\r\n-ERR x\r\n:-3\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n_\r\n#t\r\n%1\r\n$1\r\nk\r\n~1\r\n:1\r\n>1\r\n=7\r\ntxt:abc\r\n"
        var out = ByteBuffer()
        for value in try self.parseAll(text) { value.write(into: &out) }
        #expect(String(buffer: out) == text)
    }

    @Test func commandsEncodeAsArraysOfBulkStrings() {
        var command = RedisCommand("SET", "key")
        command.append(ByteBuffer(bytes: [0x00, 0xFF]))
        var out = ByteBuffer()
        command.write(into: &out)
        var expected = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n")
        expected.writeBytes([0x00, 0xFF])
        expected.writeString("\r\n")
        #expect(out == expected)
        #expect(command.name == "SET")
    }
}

import NIOCore
import NIOWebSocket
import Testing

@testable import SwitchboardAdapterKit

@Suite struct WebSocketMessageAssemblerTests {
    @Test func aTextMessageWithInvalidUTF8Closes1007() {
        var assembler = WebSocketMessageAssembler(maxSize: 1024)
        let outcome = assembler.add(opcode: .text, fin: true, data: ByteBuffer(bytes: Array(#"{"a":""#.utf8) + [0xFF, 0xFE, 0x22, 0x7D]))
        #expect(outcome == .violation(.invalidUTF8))
        #expect(UInt16(webSocketErrorCode: WebSocketViolation.invalidUTF8.code) == 1007)
    }

    @Test func aCharacterSplitAcrossFragmentsIsFine() {
        var assembler = WebSocketMessageAssembler(maxSize: 1024)
        let coffee = Array("☕".utf8)
        #expect(assembler.add(opcode: .text, fin: false, data: ByteBuffer(bytes: [0x61] + coffee.prefix(2))) == .incomplete)
        #expect(assembler.add(opcode: .continuation, fin: true, data: ByteBuffer(bytes: coffee.suffix(1))) == .message(ByteBuffer(string: "a☕")))
    }

    @Test func binaryMessagesAreNotCheckedForUTF8() {
        var assembler = WebSocketMessageAssembler(maxSize: 1024)
        #expect(assembler.add(opcode: .binary, fin: true, data: ByteBuffer(bytes: [0xFF])) == .message(ByteBuffer(bytes: [0xFF])))
    }

    @Test func fragmentsOutOfOrderClose1002() {
        var assembler = WebSocketMessageAssembler(maxSize: 1024)
        #expect(assembler.add(opcode: .continuation, fin: true, data: ByteBuffer(string: "x")) == .violation(.badFragment))
        var interleaved = WebSocketMessageAssembler(maxSize: 1024)
        #expect(interleaved.add(opcode: .text, fin: false, data: ByteBuffer(string: "x")) == .incomplete)
        #expect(interleaved.add(opcode: .text, fin: true, data: ByteBuffer(string: "y")) == .violation(.badFragment))
    }

    @Test func aMessageOverTheLimitIsDroppedWhetherInOneFrameOrManyAndTheNextOneIsRead() {
        var single = WebSocketMessageAssembler(maxSize: 8)
        #expect(single.add(opcode: .text, fin: true, data: ByteBuffer(string: "123456789")) == .oversized(8))
        #expect(single.add(opcode: .text, fin: true, data: ByteBuffer(string: "next")) == .message(ByteBuffer(string: "next")))
        var fragmented = WebSocketMessageAssembler(maxSize: 8)
        #expect(fragmented.add(opcode: .text, fin: false, data: ByteBuffer(string: "12345")) == .incomplete)
        #expect(fragmented.add(opcode: .continuation, fin: false, data: ByteBuffer(string: "6789")) == .oversized(8))
        // The rest of that message is dropped, however long, without being kept; then messages are read again.
        for _ in 0..<3 { #expect(fragmented.add(opcode: .continuation, fin: false, data: ByteBuffer(string: "dropped")) == .incomplete) }
        #expect(fragmented.add(opcode: .continuation, fin: true, data: ByteBuffer(string: "end")) == .incomplete)
        #expect(fragmented.add(opcode: .text, fin: true, data: ByteBuffer(string: "next")) == .message(ByteBuffer(string: "next")))
    }

    @Test func aNewMessageBeforeAnOversizedOneEndsCloses1002() {
        var assembler = WebSocketMessageAssembler(maxSize: 4)
        #expect(assembler.add(opcode: .text, fin: false, data: ByteBuffer(string: "12345")) == .oversized(4))
        #expect(assembler.add(opcode: .text, fin: true, data: ByteBuffer(string: "x")) == .violation(.badFragment))
    }
}

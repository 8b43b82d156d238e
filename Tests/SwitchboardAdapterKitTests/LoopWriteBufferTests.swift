import NIOCore
import NIOEmbedded
import Testing

@testable import SwitchboardAdapterKit

/// The buffer a loop lends its writers (`LoopBatch.writeBuffer`): reused from one write to the next, never under a
/// write still on its way.
@Suite struct LoopWriteBufferTests {
    @Test func aBufferHandedBackIsLentToTheNextWriteEmptyWithTheSameStorage() {
        let batch = LoopBatch(eventLoop: EmbeddedEventLoop())
        let first = Self.write(String(repeating: "a", count: 2_000), with: batch)
        var next = batch.writeBuffer(capacity: 8)
        #expect(next.readableBytes == 0)
        // A new buffer would have room for 8 bytes or so; the lent one keeps the first write's room.
        #expect(next.capacity >= 2_000)
        next.writeString("next")
        #expect(Self.address(of: next) == first)
        #expect(String(buffer: next) == "next")
    }

    @Test func aBufferStillHeldElsewhereKeepsItsBytesWhenTheNextWriteReusesIt() {
        let batch = LoopBatch(eventLoop: EmbeddedEventLoop())
        var held = batch.writeBuffer(capacity: 64)
        held.writeString("still in NIO's queue")
        // As a write the socket did not take whole: NIO keeps this buffer while the loop's next write starts.
        batch.reuse(held)
        var next = batch.writeBuffer(capacity: 64)
        next.writeString("the next write")
        #expect(String(buffer: held) == "still in NIO's queue")
        #expect(String(buffer: next) == "the next write")
    }

    @Test func aBufferLargerThanTheLoopKeepsIsLetGo() {
        let batch = LoopBatch(eventLoop: EmbeddedEventLoop())
        _ = Self.write(String(repeating: "x", count: LoopBatch.spareCapacity + 1), with: batch)
        let next = batch.writeBuffer(capacity: 8)
        #expect(next.capacity <= LoopBatch.spareCapacity)
    }

    /// Builds one write in the loop's buffer and hands it back; returns where its bytes were.
    private static func write(_ text: String, with batch: LoopBatch) -> UInt {
        var buffer = batch.writeBuffer(capacity: text.utf8.count)
        buffer.writeString(text)
        let address = self.address(of: buffer)
        batch.reuse(buffer)
        return address
    }

    private static func address(of buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }
}

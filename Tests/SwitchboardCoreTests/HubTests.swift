import NIOCore
import Synchronization
import Testing

@testable import SwitchboardCore

@Suite struct HubTests {
    @Test func broadcastReachesEverySubscriberOfTheChannelOnly() {
        let hub = Hub()
        let a = TestSubscriber(1)
        let b = TestSubscriber(2)
        let elsewhere = TestSubscriber(3)
        hub.add(a, app: "1", channel: "room")
        hub.add(b, app: "1", channel: "room")
        hub.add(elsewhere, app: "1", channel: "other")
        let delivered = hub.broadcast(.publication(publication("room", "42")))
        #expect(delivered == 2)
        #expect(a.frames == ["-:42:0"])
        #expect(b.frames == ["-:42:0"])
        #expect(elsewhere.frames.isEmpty)
    }

    @Test func senderDoesNotReceiveItsOwnMessage() {
        let hub = Hub()
        let sender = TestSubscriber(1)
        let other = TestSubscriber(2)
        hub.add(sender, app: "1", channel: "room")
        hub.add(other, app: "1", channel: "room")
        hub.broadcast(.publication(publication("room", sender: 1)))
        #expect(sender.frames.isEmpty)
        #expect(other.frames.count == 1)
    }

    @Test func messageIsEncodedOncePerWireFormatNotPerSubscriber() {
        let hub = Hub()
        let text = TextEncoder()
        let other = OtherEncoder()
        for id in 0..<1_000 { hub.add(TestSubscriber(UInt64(id), encoder: id % 2 == 0 ? text : other), app: "1", channel: "room") }
        hub.broadcast(.publication(publication("room")))
        #expect(text.calls.load(ordering: .relaxed) == 1)
        #expect(other.calls.load(ordering: .relaxed) == 1)
    }

    @Test func compressingAndPlainSubscribersOfOneFormatEachGetTheirFrameMadeOnce() {
        let hub = Hub()
        let compressor = PrefixCompressor()
        let text = TextEncoder()
        let plain = (0..<50).map { TestSubscriber(UInt64($0), encoder: text) }
        let compressing = (50..<100).map { CompressingSubscriber(UInt64($0), encoder: text, compressor: compressor) }
        for subscriber in plain { hub.add(subscriber, app: "1", channel: "room") }
        for subscriber in compressing { hub.add(subscriber, app: "1", channel: "room") }
        #expect(hub.broadcastByProtocol(.publication(publication("room", "42"))) == ["text": 100])
        #expect(text.calls.load(ordering: .relaxed) == 1)
        #expect(compressor.calls.load(ordering: .relaxed) == 1)
        #expect(plain.allSatisfy { $0.frames == ["-:42:0"] })
        #expect(compressing.allSatisfy { $0.frames == ["z:-:42:0"] })
    }

    @Test func appsDoNotShareChannelsOfTheSameName() {
        let hub = Hub()
        let a = TestSubscriber(1)
        hub.add(a, app: "1", channel: "room")
        #expect(hub.broadcast(.publication(publication("room", app: "2"))) == 0)
        #expect(a.frames.isEmpty)
    }

    @Test func firstAndLastSubscriberAreReported() {
        let hub = Hub()
        #expect(hub.add(TestSubscriber(1), app: "1", channel: "c") == (first: true, added: true))
        #expect(hub.add(TestSubscriber(2), app: "1", channel: "c") == (first: false, added: true))
        #expect(hub.add(TestSubscriber(2), app: "1", channel: "c") == (first: false, added: false))
        #expect(hub.remove(ConnectionID(1), app: "1", channel: "c") == (last: false, removed: true))
        #expect(hub.remove(ConnectionID(2), app: "1", channel: "c") == (last: true, removed: true))
        #expect(hub.remove(ConnectionID(2), app: "1", channel: "c") == (last: false, removed: false))
        #expect(hub.channels(app: "1").isEmpty)
    }
}

/// "Compresses" by prefixing `z:`, counting its calls.
private final class PrefixCompressor: FrameCompressor {
    let calls = Atomic<Int>(0)

    func compress(_ frame: ByteBuffer) -> ByteBuffer? {
        self.calls.add(1, ordering: .relaxed)
        return ByteBuffer(string: "z:" + String(buffer: frame))
    }
}

/// A subscriber that agreed to compression: it records the compressed form it is handed.
private final class CompressingSubscriber: Subscriber {
    let connectionID: ConnectionID
    let encoder: any FrameEncoder
    let compressor: (any FrameCompressor)?
    private let received = Mutex<[String]>([])

    init(_ id: UInt64, encoder: any FrameEncoder, compressor: any FrameCompressor) {
        self.connectionID = ConnectionID(id)
        self.encoder = encoder
        self.compressor = compressor
    }

    func deliver(_ frame: ByteBuffer, of message: BusMessage) -> EnqueueResult {
        self.received.withLock { $0.append(String(buffer: frame)) }
        return .queued
    }

    func deliver(_ frame: PreparedFrame, of message: BusMessage) -> EnqueueResult {
        self.deliver(frame.bytes, of: message)
    }

    var frames: [String] { self.received.withLock { $0 } }
}

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

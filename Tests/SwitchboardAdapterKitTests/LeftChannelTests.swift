import NIOCore
import NIOEmbedded
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

/// A broadcast reaches a connection's loop in a task, so one can still be on its way when the connection leaves.
@Suite struct LeftChannelTests {
    let loop = EmbeddedEventLoop()
    let hub = Hub()

    func session() -> Session {
        Session(connectionID: ConnectionID(1), app: App(id: "1", key: "pk", secrets: ["sk"]), encoder: DataEncoder(), eventLoop: self.loop)
    }

    func broadcast(_ data: String, channel: String = "room") {
        self.hub.broadcast(.publication(Publication(app: "1", channel: channel, data: ByteBuffer(string: data), timestamp: 0)))
    }

    func taken(_ session: Session) -> [String] { session.takeQueued().map { String(buffer: $0.bytes) } }

    @Test func aBroadcastStillOnItsWayWhenTheConnectionLeavesIsDropped() {
        let session = self.session()
        self.hub.add(session, app: "1", channel: "room")
        self.broadcast("before")
        self.hub.remove(session.connectionID, app: "1", channel: "room")
        #expect(session.send(ByteBuffer(string: "unsubscribed")) == .queued)
        self.loop.run()
        #expect(self.taken(session) == ["unsubscribed"])
    }

    @Test func otherChannelsOfTheConnectionStillDeliver() {
        let session = self.session()
        self.hub.add(session, app: "1", channel: "room")
        self.hub.add(session, app: "1", channel: "lobby")
        self.broadcast("room")
        self.broadcast("lobby", channel: "lobby")
        self.hub.remove(session.connectionID, app: "1", channel: "room")
        self.loop.run()
        #expect(self.taken(session) == ["lobby"])
    }

    @Test func subscribingAgainTakesTheChannelsBroadcastsAtOnce() {
        let session = self.session()
        self.hub.add(session, app: "1", channel: "room")
        self.hub.remove(session.connectionID, app: "1", channel: "room")
        self.hub.add(session, app: "1", channel: "room")
        self.broadcast("again")
        self.loop.run()
        #expect(self.taken(session) == ["again"])
    }

    @Test func theMarkOfALeftChannelLastsOnlyAMoment() {
        let session = self.session()
        self.hub.add(session, app: "1", channel: "room")
        self.hub.remove(session.connectionID, app: "1", channel: "room")
        self.loop.advanceTime(by: .seconds(2))
        // A frame of the channel delivered now (a subscriber list taken long ago) is no longer told apart.
        session.deliver(ByteBuffer(string: "late"), of: .publication(Publication(app: "1", channel: "room", data: ByteBuffer(), timestamp: 0)))
        #expect(self.taken(session) == ["late"])
    }
}

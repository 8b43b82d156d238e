import Synchronization
import Testing

@testable import SwitchboardCore

/// `subscription_count` is the whole cluster's: local changes carry other nodes' last reported subscribers, and their
/// changes reach local subscribers without becoming changes this node reports to the app.
@Suite struct ClusterSubscriptionCountTests {
    final class Heard: ChannelObserver {
        let local = Mutex<[Int]>([])
        let elsewhere = Mutex<[String: Int]>([:])

        func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {
            self.local.withLock { $0.append(count) }
        }

        func subscriptionCountChangedElsewhere(app: String, channel: String, count: Int) {
            self.elsewhere.withLock { $0[channel] = count }
        }
    }

    func bus(counting: Bool = true) -> (Bus, App, Heard) {
        var app = testApp()
        app.subscriptionCount = counting
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let heard = Heard()
        bus.observers.register(heard, name: "heard")
        return (bus, app, heard)
    }

    @Test func aLocalChangeCarriesTheOtherNodesSubscribers() async throws {
        let (bus, app, heard) = self.bus()
        #expect(bus.wantsOtherNodesLoad(app: app.id))
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "room")
        bus.otherNodesReported([app.id: NodeLoad(channels: ["room": 4])])
        try await bus.subscribe(TestSubscriber(2), app: app, channel: "room")
        #expect(heard.local.withLock { $0 } == [1, 6])
        #expect(bus.subscriberCount(app: app.id, channel: "room") == 6)
        // Nobody here: nothing to tell, whatever the others hold.
        #expect(bus.subscriberCount(app: app.id, channel: "elsewhere-only") == 0)
    }

    @Test func anotherNodesChangeIsToldForChannelsOccupiedHereOnly() async throws {
        let (bus, app, heard) = self.bus()
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "room")
        bus.otherNodesReported([app.id: NodeLoad(channels: ["room": 2, "hall": 5])])
        #expect(heard.elsewhere.withLock { $0 } == ["room": 3])
        // The same report again changes nothing; the others leaving does.
        heard.elsewhere.withLock { $0 = [:] }
        bus.otherNodesReported([app.id: NodeLoad(channels: ["room": 2, "hall": 5])])
        #expect(heard.elsewhere.withLock { $0 }.isEmpty)
        bus.otherNodesReported([:])
        #expect(heard.elsewhere.withLock { $0 } == ["room": 1])
        // Only the local subscribe was a local change.
        #expect(heard.local.withLock { $0 } == [1])
    }

    @Test func anAppThatSharesNoCountsHearsNothingFromOtherNodes() async throws {
        let (bus, app, heard) = self.bus(counting: false)
        #expect(!bus.wantsOtherNodesLoad(app: app.id))
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "room")
        bus.otherNodesReported([app.id: NodeLoad(channels: ["room": 2])])
        #expect(heard.elsewhere.withLock { $0 }.isEmpty)
    }
}

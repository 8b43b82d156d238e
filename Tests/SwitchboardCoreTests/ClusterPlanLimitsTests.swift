import NIOCore
import Synchronization
import Testing

@testable import SwitchboardCore

/// A plan's `max_connections` and `max_channels` hold across a cluster: what other nodes last reported counts too.
@Suite struct ClusterPlanLimitsTests {
    func bus(maxConnections: Int? = nil, maxChannels: Int? = nil) -> (Bus, App) {
        var plan = Plan.free
        plan.maxConnections = maxConnections
        plan.maxChannels = maxChannels
        let app = testApp(plan: plan)
        return (Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app])), app)
    }

    @Test func connectionsOtherNodesHoldCountAgainstThePlan() throws {
        let (bus, app) = self.bus(maxConnections: 5)
        bus.otherNodesReported([app.id: NodeLoad(connections: 3)])
        _ = try bus.connect(app: app)
        _ = try bus.connect(app: app)
        #expect(throws: BusError.connectionLimit(5)) { try bus.connect(app: app) }
        // They leave elsewhere: room again.
        bus.otherNodesReported([:])
        _ = try bus.connect(app: app)
        #expect(bus.localLoad()[app.id]?.connections == 3)
    }

    @Test func aChannelOpenAnywhereCountsOnceAgainstThePlan() throws {
        let (bus, app) = self.bus(maxChannels: 3)
        bus.otherNodesReported([app.id: NodeLoad(channels: ["a": 4, "b": 1, "#server-to-user-x": 1])])
        // Open elsewhere: opening it here too adds no channel.
        try bus.holdChannel(app: app, channel: "a")
        try bus.holdChannel(app: app, channel: "c")
        // a, b and c are open across the cluster; the reserved channel does not count.
        #expect(throws: BusError.channelLimit(3)) { try bus.holdChannel(app: app, channel: "d") }
        try bus.holdChannel(app: app, channel: "b")
        bus.releaseChannel(app: app.id, channel: "c")
        try bus.holdChannel(app: app, channel: "d")
    }

    @Test func anUnlimitedPlanIgnoresOtherNodes() throws {
        let (bus, app) = self.bus()
        #expect(!bus.wantsOtherNodesLoad(app: app.id))
        #expect(self.bus(maxConnections: 3).0.wantsOtherNodesLoad(app: app.id))
        bus.otherNodesReported([app.id: NodeLoad(connections: 1_000_000, channels: ["a": 1])])
        _ = try bus.connect(app: app)
        try bus.holdChannel(app: app, channel: "z")
    }

    @Test func readingANodeCommandCostsTheSameAfterAHundredThousandCommands() {
        let (bus, _) = self.bus()
        let heard = Atomic<Int>(0)
        bus.onNodeCommand(kind: "k") { _ in heard.add(1, ordering: .relaxed) }
        let command = NodeCommand(kind: "k", body: ByteBuffer(string: "{}"))
        let clock = ContinuousClock()
        let first = clock.measure { for _ in 0..<10_000 { bus.handle(command) } }
        for _ in 0..<80_000 { bus.handle(command) }
        let last = clock.measure { for _ in 0..<10_000 { bus.handle(command) } }
        #expect(heard.load(ordering: .relaxed) == 100_000)
        #expect(last < first * 5 + .milliseconds(50), "the first 10,000 took \(first), the last \(last)")
    }
}

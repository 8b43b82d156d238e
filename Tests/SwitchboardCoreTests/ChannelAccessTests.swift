import NIOCore
import Testing

@testable import SwitchboardCore

@Suite struct ChannelAccessTests {
    @Test func aUsersChannelOpensOnlyToThatSignedInUser() {
        #expect(ChannelAccess.denial(.subscribe, channel: "#server-to-user-u42") != nil)
        #expect(ChannelAccess.denial(.subscribe, channel: "#server-to-user-u42", signedInUser: "u4") != nil)
        #expect(ChannelAccess.denial(.subscribe, channel: "#server-to-user-u42", signedInUser: "u42") == nil)
    }

    @Test func noClientPublishesOnAReservedChannel() {
        #expect(ChannelAccess.denial(.publish, channel: "#server-to-user-u42", signedInUser: "u42") != nil)
        #expect(ChannelAccess.denial(.publish, channel: "#anything") != nil)
        #expect(ChannelAccess.denial(.subscribe, channel: "#anything") != nil)
    }

    @Test func ordinaryAndProtectedNamesAreLeftToTheProtocols() {
        for channel in ["chat:1", "private-room", "presence-room", "private-encrypted-x", "cache-x", "a#b"] {
            #expect(ChannelAccess.denial(.subscribe, channel: channel) == nil)
            #expect(ChannelAccess.denial(.publish, channel: channel) == nil)
        }
    }
}

@Suite struct ClientBudgetTests {
    @Test func commandsAreRefusedPastTheBurstAndRefillAtTheRate() {
        var limits = ClientLimits()
        limits.commandsPerSecond = 10
        limits.commandBurst = 5
        var budget = ClientBudget(limits, now: 0)
        for _ in 0..<5 {
            do {
                let taken = budget.take(.command, now: 0)
                #expect(taken)
            }
        }
        do {
            let taken = budget.take(.command, now: 0)
            #expect(!taken)
        }
        do {
            let taken = budget.take(.command, now: 0.1)
            #expect(taken)
        }
        do {
            let taken = budget.take(.command, now: 0.1)
            #expect(!taken)
        }
    }

    /// A reconnecting client resubscribes every channel at once: subscribes past the command burst draw on their own
    /// allowance, taken whole or not at all.
    @Test func subscribesPastTheCommandBurstDrawOnTheSubscribeAllowance() {
        var limits = ClientLimits()
        limits.commandsPerSecond = 10
        limits.commandBurst = 2
        limits.subscribeBurst = 3
        var budget = ClientBudget(limits, now: 0)
        var taken: [Bool] = []
        taken.append(budget.take(.command, count: 2, now: 0))
        taken.append(budget.take(.command, now: 0))
        taken.append(budget.take(.subscribe, count: 4, now: 0))
        taken.append(budget.take(.subscribe, count: 3, now: 0))
        taken.append(budget.take(.subscribe, now: 0))
        // Refilled at the command rate.
        taken.append(budget.take(.subscribe, count: 3, now: 0.3))
        #expect(taken == [true, false, false, true, false, true])
        limits.subscribeBurst = 0
        var none = ClientBudget(limits, now: 0)
        let past = none.take(.subscribe, now: 5)
        #expect(!past)
    }

    @Test func refusalsRunOutAndEachKindHasItsOwnBucket() {
        var limits = ClientLimits()
        limits.maxRefusals = 3
        var budget = ClientBudget(limits, now: 0)
        for _ in 0..<3 {
            do {
                let taken = budget.take(.refusal, now: 0)
                #expect(taken)
            }
        }
        do {
            let taken = budget.take(.refusal, now: 0)
            #expect(!taken)
        }
        do {
            let taken = budget.take(.publish, now: 0)
            #expect(taken)
        }
        do {
            let taken = budget.take(.presenceUpdate, now: 0)
            #expect(taken)
        }
    }
}

@Suite struct HeldChannelTests {
    @Test func presenceOnlyHoldsCountAgainstThePlanUntilReleased() async throws {
        var plan = Plan.free
        plan.maxChannels = 2
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        try bus.holdChannel(app: app, channel: "a")
        try bus.holdChannel(app: app, channel: "a")
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "b")
        #expect(throws: BusError.channelLimit(2)) { try bus.holdChannel(app: app, channel: "c") }
        await #expect(throws: BusError.channelLimit(2)) { try await bus.subscribe(TestSubscriber(2), app: app, channel: "c") }
        bus.releaseChannel(app: app.id, channel: "a")
        #expect(throws: BusError.channelLimit(2)) { try bus.holdChannel(app: app, channel: "c") }
        bus.releaseChannel(app: app.id, channel: "a")
        try bus.holdChannel(app: app, channel: "c")
    }

    @Test func reservedChannelsTheServerOpensDoNotUseThePlansChannels() async throws {
        var plan = Plan.free
        plan.maxChannels = 1
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "a")
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "#server-to-user-ann")
        try await bus.subscribe(TestSubscriber(1), app: app, channel: "#online-bob")
        await #expect(throws: BusError.channelLimit(1)) { try await bus.subscribe(TestSubscriber(1), app: app, channel: "b") }
        await bus.unsubscribe(ConnectionID(1), app: app.id, channel: "#online-bob")
        await #expect(throws: BusError.channelLimit(1)) { try await bus.subscribe(TestSubscriber(1), app: app, channel: "b") }
    }

    @Test func presenceJoinsStopAtTheMemberCapAndTheMetadataBound() async throws {
        var app = testApp()
        app.maxPresenceMembers = 2
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]), limits: Self.metadataLimit(8))
        for (index, user) in ["a", "b"].enumerated() {
            _ = try await bus.presenceJoin(
                app: app,
                channel: "p",
                userID: user,
                metadata: .init(string: "{}"),
                holder: .connection(.init(UInt64(index)))
            )
        }
        await #expect(throws: BusError.presenceFull(2)) {
            try await bus.presenceJoin(app: app, channel: "p", userID: "c", metadata: .init(string: "{}"), holder: .connection(.init(9)))
        }
        // A member already present may join again from another connection.
        _ = try await bus.presenceJoin(app: app, channel: "p", userID: "a", metadata: .init(string: "{}"), holder: .connection(.init(7)))
        await #expect(throws: BusError.metadataTooLarge(limit: 8)) {
            try await bus.presenceUpdate(app: app, channel: "p", userID: "a", metadata: .init(string: #"{"x":"123456"}"#))
        }
    }

    @Test func aReloadedMetadataBoundAndPresenceTimeoutApplyToTheRunningBus() async throws {
        let app = testApp()
        let limits = Self.metadataLimit(8)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]), limits: limits)
        let metadata = ByteBuffer(string: #"{"x":"123456"}"#)
        await #expect(throws: BusError.metadataTooLarge(limit: 8)) {
            try await bus.presenceJoin(app: app, channel: "p", userID: "a", metadata: metadata, holder: .server)
        }
        var values = limits.current
        values.client.maxPresenceMetadataBytes = 64
        values.presenceTimeoutSeconds = 5
        limits.replace(values)
        _ = try await bus.presenceJoin(app: app, channel: "p", userID: "a", metadata: metadata, holder: .server)
        #expect(bus.presenceTimeoutMilliseconds == 5_000)
        // The sweep expires with the new timeout: a join silent for 6 s is gone.
        try await bus.sweep(now: WallClock.milliseconds() + 6_000)
        #expect(try await bus.members(app: app.id, channel: "p").isEmpty)
    }

    /// Limits whose presence metadata bound is `bytes`.
    static func metadataLimit(_ bytes: Int) -> LiveLimits {
        var client = ClientLimits()
        client.maxPresenceMetadataBytes = bytes
        return LiveLimits(LiveLimits.Values(client: client))
    }
}

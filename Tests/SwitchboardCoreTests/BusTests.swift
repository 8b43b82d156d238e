import NIOCore
import Synchronization
import Testing

@testable import SwitchboardCore

@Suite struct BusTests {
    @Test func publishKeepsHistoryAndFansOut() async throws {
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [testApp()]))
        let app = testApp()
        let subscriber = TestSubscriber(1)
        try await bus.subscribe(subscriber, app: app, channel: "room")
        let published = try await bus.publish(publication("room", "7", event: "e"), app: app)
        #expect(published.position?.offset == 1)
        #expect(subscriber.frames == ["e:7:1"])
        let page = try await bus.history(app: app, channel: "room", after: 0, limit: nil)
        #expect(page.publications.count == 1)
    }

    @Test func historyIsKeptWithoutSubscribers() async throws {
        let app = testApp()
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        _ = try await bus.publish(publication("empty"), app: app)
        #expect(try await bus.history(app: app, channel: "empty", after: 0, limit: nil).publications.count == 1)
    }

    @Test func aRuleWithHistorySizeZeroKeepsNothing() async throws {
        let app = testApp(rules: [ChannelRule(match: "live:*", historySize: 0)])
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let published = try await bus.publish(publication("live:x"), app: app)
        #expect(published.position == nil)
    }

    @Test func oversizeMessagesAreRefused() async throws {
        var plan = Plan.free
        plan.maxMessageBytes = 4
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        await #expect(throws: BusError.messageTooLarge(limit: 4)) { try await bus.publish(publication("c", "12345"), app: app) }
    }

    @Test func publishesPastThePlanRateAreRefused() async throws {
        var plan = Plan.free
        plan.publishesPerMinute = 3
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]), limiter: RateLimiter(now: { 0 }))
        for _ in 0..<3 { _ = try await bus.publish(publication("c"), app: app) }
        await #expect(throws: BusError.rateLimited) { try await bus.publish(publication("c"), app: app) }
    }

    @Test func channelsBeyondThePlanAreRefusedAndFreedOnUnsubscribe() async throws {
        var plan = Plan.free
        plan.maxChannels = 2
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let s = TestSubscriber(1)
        try await bus.subscribe(s, app: app, channel: "a")
        try await bus.subscribe(s, app: app, channel: "b")
        await #expect(throws: BusError.channelLimit(2)) { try await bus.subscribe(s, app: app, channel: "c") }
        #expect(bus.channels(app: app.id).keys.sorted() == ["a", "b"])
        await bus.unsubscribe(s.connectionID, app: app.id, channel: "a")
        try await bus.subscribe(s, app: app, channel: "c")
    }

    @Test func connectionsBeyondThePlanAreRefused() throws {
        var plan = Plan.free
        plan.maxConnections = 1
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        _ = try bus.connect(app: app)
        #expect(throws: BusError.connectionLimit(1)) { try bus.connect(app: app) }
        bus.disconnect(app: app.id)
        _ = try bus.connect(app: app)
    }

    /// A user's second connection is announced to the channel (client-keyed protocols list it), but neither the caller
    /// nor the observers (webhooks, kits) hear of a member that did not change.
    @Test func presenceChangesAreAnnouncedToTheChannelAndMemberChangesToObservers() async throws {
        final class Heard: ChannelObserver {
            let kinds = Mutex<[PresenceChange.Kind]>([])
            func presenceChanged(_ change: PresenceChange) { self.kinds.withLock { $0.append(change.kind) } }
        }
        let app = testApp()
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let heard = Heard()
        bus.observers.register(heard, name: "heard")
        let watcher = TestSubscriber(1)
        try await bus.subscribe(watcher, app: app, channel: "presence-room")
        let meta = ByteBuffer(string: "{}")
        var returned: [PresenceChange.Kind?] = []
        returned.append(
            try await bus.presenceJoin(app: app, channel: "presence-room", userID: "u", metadata: meta, holder: .connection(ConnectionID(2)))?.kind
        )
        returned.append(
            try await bus.presenceJoin(app: app, channel: "presence-room", userID: "u", metadata: meta, holder: .connection(ConnectionID(3)))?.kind
        )
        returned.append(try await bus.presenceLeave(app: app.id, channel: "presence-room", userID: "u", holder: .connection(ConnectionID(2)))?.kind)
        returned.append(try await bus.presenceLeave(app: app.id, channel: "presence-room", userID: "u", holder: .connection(ConnectionID(3)))?.kind)
        #expect(watcher.frames == ["presence.join:u", "presence.connectionJoin:u", "presence.connectionLeave:u", "presence.leave:u"])
        #expect(returned == [.join, nil, nil, .leave])
        #expect(heard.kinds.withLock { $0 } == [.join, .leave])
    }

    @Test func aMembersMetadataHoldsItsOwnBytesNotTheFrameItCameIn() async throws {
        let app = testApp()
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        var frame = ByteBufferAllocator().buffer(capacity: 1 << 20)
        frame.writeRepeatingByte(UInt8(ascii: " "), count: 1 << 20)
        frame.setString(#"{"n":1}"#, at: 500)
        let metadata = try #require(frame.getSlice(at: 500, length: 7))
        _ = try await bus.presenceJoin(app: app, channel: "presence-room", userID: "u", metadata: metadata, holder: .connection(ConnectionID(2)))
        _ = try await bus.presenceJoin(
            app: app,
            channel: "presence-room",
            userID: "v",
            metadata: ByteBuffer(string: "{}"),
            holder: .connection(ConnectionID(3))
        )
        _ = try await bus.presenceUpdate(app: app, channel: "presence-room", userID: "v", metadata: metadata)
        let members = try await bus.members(app: app.id, channel: "presence-room")
        #expect(members.count == 2)
        #expect(members.allSatisfy { String(buffer: $0.metadata) == #"{"n":1}"# && $0.metadata.storageCapacity < 1_024 })
    }

    @Test func presenceIsRefusedWhereTheRulesForbidIt() async throws {
        let app = testApp(rules: [ChannelRule(match: "quiet:", presence: false)])
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        await #expect(throws: BusError.presenceNotAllowed) {
            try await bus.presenceJoin(app: app, channel: "quiet:1", userID: "u", metadata: ByteBuffer(string: "null"), holder: .server)
        }
    }

    @Test func invalidChannelNamesAreRefused() async throws {
        let app = testApp()
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        await #expect(throws: BusError.invalidChannel) { try await bus.subscribe(TestSubscriber(1), app: app, channel: "has space") }
        await #expect(throws: BusError.invalidChannel) { try await bus.publish(publication(""), app: app) }
    }

    @Test func anEventNameSSECouldNotCarryIntactIsRefusedBeforeItCountsAgainstThePlan() async throws {
        var plan = Plan.enterprise
        plan.publishesPerMinute = 1
        let app = testApp(plan: plan)
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        for name in ["ev\nil", "a\rb", "tab\there", "", String(repeating: "n", count: 201), "del\u{7F}"] {
            await #expect(throws: BusError.invalidEventName) { try await bus.publish(publication("room", event: name), app: app) }
        }
        #expect(bus.stats.publishedTotal == 0)
        // The one publish a minute the plan allows is still there.
        let published = try await bus.publish(publication("room", event: String(repeating: "é", count: 100)), app: app)
        #expect(published.position?.offset == 1)
        #expect(EventName.isValid("client-typing.ü:1") && !EventName.isValid("two\u{85}lines"))
    }
}

@Suite struct AppTests {
    @Test func channelKindComesFromTheName() {
        #expect(ChannelKind(channel: "private-encrypted-x") == .privateEncrypted)
        #expect(ChannelKind(channel: "private-x") == .private)
        #expect(ChannelKind(channel: "presence-x") == .presence)
        #expect(ChannelKind(channel: "cache-x") == .cache)
        #expect(ChannelKind(channel: "chat:x") == .public)
        #expect(ChannelKind(channel: "$room") == .private)
    }

    /// `$` is Centrifugo's private prefix: valid at the start of a name (and only there), and it makes the channel private.
    @Test func aLeadingDollarNamesAPrivateChannel() {
        #expect(ChannelName.isValid("$room:1"))
        #expect(!ChannelName.isValid("$"))
        #expect(!ChannelName.isValid("room$"))
        #expect(!ChannelName.isValid("$$room"))
        #expect(ChannelKind(channel: "$room").isProtected)
    }

    @Test func rulesMatchByPrefixNamespaceOrExactName() {
        #expect(ChannelRule(match: "chat:*").matches("chat:room"))
        #expect(ChannelRule(match: "chat:").matches("chat:room"))
        #expect(!ChannelRule(match: "chat:").matches("chatroom"))
        #expect(ChannelRule(match: "lobby").matches("lobby"))
        #expect(!ChannelRule(match: "lobby").matches("lobby2"))
    }

    @Test func aRuleCannotKeepMoreHistoryThanThePlan() {
        let app = testApp(plan: .free, rules: [ChannelRule(match: "*", historySize: 5_000)])
        #expect(app.policy(for: "x").history.size == Plan.free.historySize)
    }

    @Test func privateAndPresenceChannelsNeedATokenAndRulesCanRequireOne() {
        let app = testApp(rules: [ChannelRule(match: "locked:*", requireToken: true)])
        #expect(app.policy(for: "private-a").requireToken)
        #expect(app.policy(for: "presence-a").requireToken)
        #expect(app.policy(for: "locked:a").requireToken)
        #expect(!app.policy(for: "open").requireToken)
    }

    @Test func originsMatchExactlyOrByWildcardSubdomain() {
        let patterns = ["http://localhost:8080", "https://*.example.com"]
        #expect(OriginPolicy.allows("http://localhost:8080", patterns: patterns))
        #expect(OriginPolicy.allows("https://app.example.com", patterns: patterns))
        #expect(OriginPolicy.allows("https://a.b.example.com", patterns: patterns))
        #expect(!OriginPolicy.allows("https://example.com", patterns: patterns))
        #expect(!OriginPolicy.allows("http://app.example.com", patterns: patterns))
        #expect(!OriginPolicy.allows("https://evil-example.com", patterns: patterns))
        #expect(!OriginPolicy.allows("http://localhost:8081", patterns: patterns))
        #expect(OriginPolicy.allows("https://anything", patterns: []))
    }

    @Test func tokenBucketRefillsOverTime() {
        var bucket = TokenBucket.perMinute(60, now: 0)
        var taken = 0
        for _ in 0..<61 where bucket.take(now: 0) { taken += 1 }
        #expect(taken == 60)
        let afterOneSecond = bucket.take(now: 1.0)
        let again = bucket.take(now: 1.0)
        #expect(afterOneSecond)
        #expect(!again)
    }

    @Test func registryFindsAppsByKeySecretAndHost() {
        var app = testApp()
        app.hosts = ["rt.example.com"]
        let registry = AppRegistry(apps: [app], defaultAppID: "1")
        #expect(registry.app(key: "pk")?.id == "1")
        #expect(registry.app(secret: "sk")?.id == "1")
        #expect(registry.app(host: "RT.example.com:443")?.id == "1")
        #expect(registry.app(key: "nope") == nil)
        #expect(registry.defaultApp?.id == "1")
    }
}

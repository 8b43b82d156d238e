import Logging
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JSONAction

/// Drives JSON-action connections against an in-process bus, without sockets.
struct Harness {
    let app: App
    let bus: Bus
    let security = MemorySecurityLog()
    let environment: AdapterEnvironment

    init(plan: Plan = .enterprise, rules: [ChannelRule] = []) {
        self.app = App(id: "1", key: "pk", secrets: ["secret"], plan: plan, channelRules: rules)
        let registry = AppRegistry(apps: [self.app])
        self.bus = Bus(engine: MemoryEngine(), apps: registry)
        self.environment = AdapterEnvironment(
            bus: self.bus,
            gate: Gate(apps: registry, security: self.security),
            connections: ConnectionCounter(),
            logger: Logger(label: "test")
        )
    }

    func connect() throws -> JSONActionConnection {
        let id = try self.bus.connect(app: self.app)
        let session = Session(connectionID: id, app: self.app, encoder: JSONActionEncoder())
        return JSONActionConnection(session: session, clientID: "c\(id.raw)", environment: self.environment, caller: Caller(ip: "127.0.0.1"))
    }

    func token(channel: String, user: String = "u", permissions: [String] = ["subscribe", "publish"], expiresIn: Int64 = 60) -> String {
        HMACToken.mint(
            secret: "secret",
            subject: user,
            expiresAt: WallClock.milliseconds() / 1000 + expiresIn,
            channel: channel,
            permissions: permissions
        )
    }
}

extension JSONActionConnection {
    func send(_ text: String) async { await self.receive(ByteBuffer(string: text)) }

    /// Everything queued for the client so far, as parsed frames.
    func drained() async -> [JSONObject] {
        self.session.takeQueued().compactMap { try? JSONObject(parsing: $0.bytes) }
    }
}

extension JSONObject {
    var event: String? { self.string("event") }
    var code: String? { self.object("data")?.string("code") }
}

@Suite struct JSONActionConnectionTests {
    @Test func publishReachesOtherSubscribersButNotTheSender() async throws {
        let h = Harness()
        let alice = try h.connect()
        let bob = try h.connect()
        await alice.send(#"{"action":"subscribe","channel":"room"}"#)
        await bob.send(#"{"action":"subscribe","channel":"room"}"#)
        _ = await alice.drained()
        _ = await bob.drained()
        await alice.send(#"{"action":"publish","channel":"room","data":{"text":"hi"},"userId":"alice"}"#)
        let toBob = await bob.drained()
        #expect(toBob.map(\.event) == ["realtime.message"])
        #expect(toBob.first?.raw("data").map { String(buffer: $0) } == #"{"text":"hi"}"#)
        #expect(toBob.first?.string("userId") == "alice")
        #expect(toBob.first?.integer("seq") == 1)
        #expect(await alice.drained().isEmpty)
    }

    @Test func badFramesGetAnErrorAndChangeNothing() async throws {
        let h = Harness()
        let client = try h.connect()
        let watcher = try h.connect()
        await watcher.send(#"{"action":"subscribe","channel":"room"}"#)
        _ = await watcher.drained()
        for frame in [
            "not json", #"{"action":"dance"}"#, #"{"action":"publish"}"#, #"{"action":"publish","channel":"room"}"#, #"{"channel":"room"}"#,
            #"{"action":"subscribe","channel":"bad name"}"#, #"{"action":"subscribe","channel":"room","lastEventId":"x"}"#,
        ] {
            await client.send(frame)
            let replies = await client.drained()
            #expect(replies.map(\.event) == ["error"], "\(frame)")
            #expect(replies.first?.code == "bad_request", "\(frame)")
        }
        await client.send(#"{"action":"ping"}"#)
        #expect(await client.drained().map(\.event) == ["pong"])
        #expect(await watcher.drained().isEmpty)
        #expect(!h.security.events(SecurityEventQuery(kind: .badRequest)).isEmpty)
    }

    @Test func privateChannelsNeedAValidTokenForTheirChannel() async throws {
        let h = Harness()
        let client = try h.connect()
        await client.send(#"{"action":"subscribe","channel":"private-a"}"#)
        #expect(await client.drained().first?.code == "unauthorized")
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(h.token(channel: "private-b"))"}"#)
        #expect(await client.drained().first?.code == "forbidden")
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(h.token(channel: "private-a", expiresIn: -5))"}"#)
        #expect(await client.drained().first?.code == "unauthorized")
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(h.token(channel: "private-a"))"}"#)
        #expect(await client.drained().map(\.event) == ["subscribed"])
        #expect(h.security.events(SecurityEventQuery(kind: .tokenExpired)).count == 1)
    }

    @Test func aSubscribeOnlyTokenCannotPublish() async throws {
        let h = Harness()
        let client = try h.connect()
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(h.token(channel: "private-a", permissions: ["subscribe"]))"}"#)
        _ = await client.drained()
        await client.send(#"{"action":"publish","channel":"private-a","data":1}"#)
        #expect(await client.drained().first?.code == "forbidden")
    }

    @Test func replayDeliversEverythingAfterLastEventIdThenLive() async throws {
        let h = Harness()
        for i in 1...5 {
            _ = try await h.bus.publish(
                Publication(app: "1", channel: "feed", data: ByteBuffer(string: "\(i)"), timestamp: WallClock.milliseconds()),
                app: h.app
            )
        }
        let client = try h.connect()
        await client.send(#"{"action":"subscribe","channel":"feed","lastEventId":2}"#)
        _ = try await h.bus.publish(
            Publication(app: "1", channel: "feed", data: ByteBuffer(string: "6"), timestamp: WallClock.milliseconds()),
            app: h.app
        )
        let frames = await client.drained()
        #expect(frames.first?.event == "subscribed")
        #expect(frames.dropFirst().compactMap { $0.integer("seq") } == [3, 4, 5, 6])
    }

    @Test func aCatchUpLongerThanAPageArrivesWholeInPagesAsTheClientReads() async throws {
        let h = Harness()
        func publish(_ i: Int) async throws {
            _ = try await h.bus.publish(
                Publication(app: "1", channel: "feed", data: ByteBuffer(string: "\(i)"), timestamp: WallClock.milliseconds()),
                app: h.app
            )
        }
        for i in 1...30 { try await publish(i) }
        let client = try h.connect()
        // An enterprise message may be 1 MB, so a page is four messages of the 8 MB queue's half.
        let subscribing = Task { await client.send(#"{"action":"subscribe","channel":"feed","lastEventId":0}"#) }
        var seqs: [Int64] = []
        var largestTake = 0
        var published = false
        for _ in 0..<2_000 where seqs.last != 31 {
            let taken = client.session.takeQueued()
            largestTake = max(largestTake, taken.count)
            let messages = taken.compactMap { try? JSONObject(parsing: $0.bytes) }.filter { $0.event == "realtime.message" }
            seqs += messages.compactMap { $0.integer("seq") }
            if !published, seqs.count >= 8 {
                // Live while the catch-up is under way: held back, then after the last page.
                try await publish(31)
                published = true
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        await subscribing.value
        #expect(seqs == Array(1...31))
        #expect(largestTake <= 5)
    }

    @Test func presenceJoinAndLeaveAreAnnounced() async throws {
        let h = Harness()
        let watcher = try h.connect()
        let member = try h.connect()
        await watcher.send(#"{"action":"subscribe","channel":"lobby"}"#)
        _ = await watcher.drained()
        await member.send(#"{"action":"presence:join","channel":"lobby","userId":"ada","metadata":{"x":1}}"#)
        await member.send(#"{"action":"presence:update","channel":"lobby","metadata":{"x":2}}"#)
        await member.closed()
        let frames = await watcher.drained()
        #expect(frames.map(\.event) == ["presence.join", "presence.update", "presence.leave"])
        #expect(frames.first?.string("userId") == "ada")
    }

    @Test func publishingOnAReadOnlyChannelIsForbidden() async throws {
        let h = Harness(rules: [ChannelRule(match: "news:*", clientPublish: false)])
        let client = try h.connect()
        await client.send(#"{"action":"publish","channel":"news:1","data":{}}"#)
        #expect(await client.drained().first?.code == "forbidden")
    }

    @Test func oversizeAndRateLimitedPublishesGetTheirCodes() async throws {
        var plan = Plan.free
        plan.maxMessageBytes = 16
        plan.publishesPerMinute = 2
        let h = Harness(plan: plan)
        let client = try h.connect()
        await client.send(#"{"action":"publish","channel":"c","data":"this payload is too long"}"#)
        #expect(await client.drained().first?.code == "message_too_large")
        await client.send(#"{"action":"publish","channel":"c","data":1}"#)
        await client.send(#"{"action":"publish","channel":"c","data":2}"#)
        await client.send(#"{"action":"publish","channel":"c","data":3}"#)
        #expect(await client.drained().map(\.code) == ["rate_limited"])
    }

    @Test func channelsBeyondThePlanGetChannelLimit() async throws {
        var plan = Plan.free
        plan.maxChannels = 1
        let h = Harness(plan: plan)
        let client = try h.connect()
        await client.send(#"{"action":"subscribe","channel":"a"}"#)
        await client.send(#"{"action":"subscribe","channel":"b"}"#)
        #expect(await client.drained().map(\.event) == ["subscribed", "error"])
    }
}

import Logging
import NIOCore
import Pusher
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

/// A bus, a gate and a Pusher context with no sockets: connections are driven frame by frame.
struct PusherHarness {
    let app: App
    let bus: Bus
    let security = MemorySecurityLog()
    let context: PusherContext

    init(_ configure: (inout App) -> Void = { _ in }) {
        var app = App(id: "1", key: "pk_test", secrets: ["sk_test_secret"], plan: .enterprise)
        configure(&app)
        self.app = app
        let apps = AppRegistry(apps: [app])
        self.bus = Bus(engine: MemoryEngine(), apps: apps)
        let environment = AdapterEnvironment(
            bus: self.bus,
            gate: Gate(apps: apps, security: self.security),
            connections: ConnectionCounter(),
            logger: .init(label: "test")
        )
        // Counts at every change: CountThrottledObserverTests and the interop suite pin the throttle.
        var limits = PusherContext.Limits()
        limits.subscriptionCountInterval = .zero
        self.context = PusherContext(environment: environment, limits: limits)
        self.context.attach()
    }

    func connect(now: Int64 = 0) throws -> PusherConnection {
        let id = try self.bus.connect(app: self.app)
        let session = Session(connectionID: id, app: self.app, encoder: PusherEncoder())
        let connection = PusherConnection(
            session: session,
            socketID: PusherConnection.makeSocketID(id),
            context: self.context,
            caller: Caller(ip: "127.0.0.1"),
            now: now
        )
        self.context.registry.add(connection)
        return connection
    }

    /// Everything queued on the connection so far, without waiting for more.
    func frames(_ connection: PusherConnection) async -> [JSONObject] {
        connection.session.send(ByteBuffer(string: #"{"event":"test:marker"}"#))
        var out: [JSONObject] = []
        while let batch = await connection.session.next() {
            for frame in batch {
                guard let object = try? JSONObject(parsing: frame.bytes) else {
                    Issue.record("unparseable frame \(String(buffer: frame.bytes))")
                    continue
                }
                if object.string("event") == "test:marker" { return out }
                out.append(object)
            }
        }
        return out
    }

    func send(_ connection: PusherConnection, _ text: String, now: Int64 = 0) async {
        await connection.receive(ByteBuffer(string: text), now: now)
    }

    func subscribe(_ connection: PusherConnection, _ channel: String, channelData: String? = nil, sign: Bool = true) async {
        var data = #"{"channel":"\#(channel)""#
        if sign {
            let auth = PusherSignature.channelAuth(
                key: self.app.key,
                secret: self.app.signingSecret,
                socketID: connection.socketID,
                channel: channel,
                channelData: channelData
            )
            data += #","auth":"\#(auth)""#
        }
        if let channelData { data += #","channel_data":\#(String(buffer: JSONWriter.encodeString(channelData)))"# }
        await self.send(connection, #"{"event":"pusher:subscribe","data":\#(data)}}"#)
    }

    /// Sends `pusher:signin` with `userData`, signed for the connection by default.
    func signIn(_ connection: PusherConnection, userData: String, auth: String? = nil) async {
        let signed = PusherSignature.userAuth(key: self.app.key, secret: self.app.signingSecret, socketID: connection.socketID, userData: userData)
        let auth = auth ?? signed
        await self.send(
            connection,
            #"{"event":"pusher:signin","data":{"auth":"\#(auth)","user_data":\#(String(buffer: JSONWriter.encodeString(userData)))}}"#
        )
    }

    func events(_ kind: SecurityEvent.Kind) -> [SecurityEvent] { self.security.events(SecurityEventQuery(kind: kind)) }
}

extension Array where Element == JSONObject {
    var names: [String] { self.map { $0.string("event") ?? "?" } }
    func first(_ event: String) -> JSONObject? { self.first { $0.string("event") == event } }
}

extension JSONObject {
    var errorCode: Int64? { self.object("data")?.integer("code") }
    var dataObject: JSONObject? { self.string("data").flatMap { try? JSONObject(parsing: ByteBuffer(string: $0)) } }
}

@Suite struct PusherConnectionTests {
    @Test func theHandshakeCarriesASocketIDAndTheActivityTimeout() async throws {
        let harness = PusherHarness { $0.activityTimeoutSeconds = 42 }
        let connection = try harness.connect()
        connection.established()
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher:connection_established"])
        let data = try #require(frames[0].dataObject)
        #expect(data.string("socket_id") == connection.socketID)
        #expect(PusherConnection.isSocketID(connection.socketID))
        #expect(data.integer("activity_timeout") == 42)
    }

    @Test func aPublicSubscriptionSucceedsAndDeliversEvents() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.subscribe(connection, "news", sign: false)
        _ = try await harness.bus.publish(
            Publication(app: "1", channel: "news", event: "headline", data: ByteBuffer(string: #"{"t":1}"#), timestamp: 1),
            app: harness.app
        )
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher_internal:subscription_succeeded", "headline"])
        #expect(frames[1].string("data") == #"{"t":1}"#)
    }

    @Test func aPingIsAnsweredWithAPong() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.send(connection, #"{"event":"pusher:ping","data":""}"#)
        #expect(await harness.frames(connection).names == ["pusher:pong"])
    }

    @Test func aPrivateChannelNeedsTheRightSignature() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.subscribe(connection, "private-a", sign: false)
        await harness.send(connection, #"{"event":"pusher:subscribe","data":{"channel":"private-a","auth":"pk_test:00ff"}}"#)
        let refused = await harness.frames(connection)
        #expect(refused.names == ["pusher:subscription_error", "pusher:error", "pusher:subscription_error", "pusher:error"])
        #expect(refused[1].errorCode == 4009)
        #expect(refused[1].string("channel") == "private-a")
        #expect(connection.channels.isEmpty)
        #expect(harness.bus.hub.count(app: "1", channel: "private-a") == 0)
        #expect(harness.events(.badSignature).count == 2)

        await harness.subscribe(connection, "private-a")
        #expect(await harness.frames(connection).names == ["pusher_internal:subscription_succeeded"])
        #expect(connection.channels == ["private-a"])
    }

    @Test func aSignatureForAnotherSocketIsRefused() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        let auth = PusherSignature.channelAuth(key: "pk_test", secret: "sk_test_secret", socketID: "1.1", channel: "private-a")
        await harness.send(connection, #"{"event":"pusher:subscribe","data":{"channel":"private-a","auth":"\#(auth)"}}"#)
        #expect(await harness.frames(connection).first("pusher:error")?.errorCode == 4009)
    }

    @Test func presenceListsMembersAndAnnouncesArrivalsToOthersOnly() async throws {
        let harness = PusherHarness()
        let first = try harness.connect()
        let second = try harness.connect()
        await harness.subscribe(first, "presence-room", channelData: #"{"user_id":"ann","user_info":{"name":"Ann"}}"#)
        let own = await harness.frames(first)
        #expect(own.names == ["pusher_internal:subscription_succeeded"])
        #expect(own[0].string("data") == #"{"presence":{"ids":["ann"],"hash":{"ann":{"name":"Ann"}},"count":1}}"#)

        await harness.subscribe(second, "presence-room", channelData: #"{"user_id":7}"#)
        let joined = await harness.frames(second)
        #expect(joined[0].dataObject?.object("presence")?.integer("count") == 2)
        #expect(joined[0].dataObject?.object("presence")?.strings("ids") == ["7", "ann"])
        let added = await harness.frames(first)
        #expect(added.names == ["pusher_internal:member_added"])
        #expect(added[0].string("data") == #"{"user_id":"7","user_info":null}"#)

        await harness.send(second, #"{"event":"pusher:unsubscribe","data":{"channel":"presence-room"}}"#)
        let removed = await harness.frames(first)
        #expect(removed.names == ["pusher_internal:member_removed"])
        #expect(removed[0].string("data") == #"{"user_id":"7"}"#)
        #expect(await harness.frames(second).isEmpty)
    }

    @Test func presenceChannelDataIsValidated() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        for channelData in [#"{"user_info":{}}"#, #"{"user_id":""}"#, #"{"user_id":true}"#, "not json"] {
            await harness.subscribe(connection, "presence-room", channelData: channelData)
            let frames = await harness.frames(connection)
            #expect(frames.first("pusher:error")?.errorCode == 4300, "\(channelData)")
        }
        await harness.subscribe(connection, "presence-room", sign: true)
        #expect(await harness.frames(connection).first("pusher:error") != nil)
        #expect(connection.channels.isEmpty)
        #expect(try await harness.bus.members(app: "1", channel: "presence-room").isEmpty)
    }

    @Test func aFullPresenceChannelRefusesNewMembersWith4100() async throws {
        let harness = PusherHarness { $0.maxPresenceMembers = 2 }
        var connections: [PusherConnection] = []
        for index in 0..<3 {
            let connection = try harness.connect()
            connections.append(connection)
            await harness.subscribe(connection, "presence-full", channelData: #"{"user_id":"u\#(index)"}"#)
        }
        let refused = await harness.frames(connections[2])
        #expect(refused.first("pusher:error")?.errorCode == 4100)
        #expect(refused.first("pusher:subscription_error") != nil)
        #expect(try await harness.bus.members(app: "1", channel: "presence-full").map(\.userID) == ["u0", "u1"])
        #expect(await harness.frames(connections[0]).names == ["pusher_internal:subscription_succeeded", "pusher_internal:member_added"])
        #expect(harness.events(.overQuota).count == 1)
        // A user already present may open another connection.
        let again = try harness.connect()
        await harness.subscribe(again, "presence-full", channelData: #"{"user_id":"u0"}"#)
        #expect(await harness.frames(again).names == ["pusher_internal:subscription_succeeded"])
    }

    @Test func subscribingTwiceIsAnErrorThatChangesNothing() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.subscribe(connection, "news", sign: false)
        await harness.subscribe(connection, "news", sign: false)
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher_internal:subscription_succeeded", "pusher:error"])
        #expect(frames[1].errorCode == 4300)
        #expect(harness.bus.hub.count(app: "1", channel: "news") == 1)
    }

    @Test func aThousandChannelsOnOneSocketStopAtTheLimitAndTheFloodIsClosed() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        for index in 0..<1000 { await harness.subscribe(connection, "room-\(index)", sign: false) }
        let frames = await harness.frames(connection)
        #expect(frames.filter { $0.string("event") == "pusher_internal:subscription_succeeded" }.count == 100)
        // Past the limit every frame is refused, and after `max_refusals` of them the connection is closed with 4100.
        let errors = frames.filter { $0.string("event") == "pusher:error" }
        #expect(errors.count <= 25)
        #expect(errors.last?.errorCode == 4100)
        #expect(connection.closeCode == .overCapacity)
        #expect(connection.channels.count == 100)
        #expect(harness.bus.channels(app: "1").count == 100)
    }

    @Test func badFramesGetAnErrorAndNothingElse() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.subscribe(connection, "news", sign: false)
        _ = await harness.frames(connection)
        for text in [
            "{", #"{"event":"pusher:nonsense","data":{}}"#, #"{"event":"hello","data":{}}"#,
            #"{"event":"pusher:subscribe","data":{"channel":"bad channel!"}}"#,
        ] {
            await harness.send(connection, text)
        }
        let big = String(repeating: "x", count: harness.app.plan.maxMessageBytes + 5000)
        await harness.send(connection, #"{"event":"client-x","channel":"private-a","data":"\#(big)"}"#)
        let frames = await harness.frames(connection)
        #expect(frames.filter { $0.string("event") == "pusher:error" }.allSatisfy { $0.errorCode == 4300 })
        #expect(frames.filter { $0.string("event") == "pusher:error" }.count == 5)
        #expect(connection.channels == ["news"])
        #expect(connection.closeCode == nil)
        #expect(harness.events(.messageTooLarge).count == 1)
    }

    @Test func clientEventsReachOthersButNotTheSender() async throws {
        let harness = PusherHarness()
        let alice = try harness.connect()
        let bob = try harness.connect()
        await harness.subscribe(alice, "presence-chat", channelData: #"{"user_id":"alice"}"#)
        await harness.subscribe(bob, "presence-chat", channelData: #"{"user_id":"bob"}"#)
        _ = await harness.frames(alice)
        _ = await harness.frames(bob)
        await harness.send(alice, #"{"event":"client-typing","channel":"presence-chat","data":{"on":true}}"#)
        let echoed = await harness.frames(alice)
        #expect(echoed.isEmpty, "\(echoed.map { String(buffer: $0.buffer) })")
        let received = await harness.frames(bob)
        #expect(received.names == ["client-typing"])
        #expect(received[0].string("data") == #"{"on":true}"#)
        #expect(received[0].string("user_id") == "alice")
    }

    @Test func clientEventsAreRefusedWhereTheyDoNotBelong() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.subscribe(connection, "news", sign: false)
        await harness.subscribe(connection, "private-encrypted-x")
        _ = await harness.frames(connection)
        for channel in ["news", "private-encrypted-x", "private-not-subscribed"] {
            await harness.send(connection, #"{"event":"client-x","channel":"\#(channel)","data":"{}"}"#)
        }
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher:error", "pusher:error", "pusher:error"])
        #expect(frames.allSatisfy { $0.errorCode == 4300 })
        #expect(harness.events(.forbidden).count == 3)

        let disabled = PusherHarness { $0.clientEvents = false }
        let other = try disabled.connect()
        await disabled.subscribe(other, "private-a")
        _ = await disabled.frames(other)
        await disabled.send(other, #"{"event":"client-x","channel":"private-a","data":"{}"}"#)
        #expect(await disabled.frames(other).first?.errorCode == 4300)
    }

    @Test func clientEventsPastTheRateGet4301() async throws {
        let harness = PusherHarness()
        let sender = try harness.connect()
        let receiver = try harness.connect()
        await harness.subscribe(sender, "private-r")
        await harness.subscribe(receiver, "private-r")
        _ = await harness.frames(sender)
        _ = await harness.frames(receiver)
        for _ in 0..<12 { await harness.send(sender, #"{"event":"client-x","channel":"private-r","data":"{}"}"#, now: 1000) }
        let errors = await harness.frames(sender)
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.errorCode == 4301 })
        #expect(await harness.frames(receiver).count == 10)
        // A second later the bucket has refilled.
        await harness.send(sender, #"{"event":"client-x","channel":"private-r","data":"{}"}"#, now: 2000)
        #expect(await harness.frames(receiver).count == 1)
        #expect(sender.closeCode == nil)
    }

    @Test func aCacheChannelReplaysItsLastEventOrSaysItMissed() async throws {
        let harness = PusherHarness()
        let early = try harness.connect()
        await harness.subscribe(early, "cache-price", sign: false)
        #expect(await harness.frames(early).names == ["pusher_internal:subscription_succeeded", "pusher:cache_miss"])
        for price in [1, 2] {
            _ = try await harness.bus.publish(
                Publication(
                    app: "1",
                    channel: "cache-price",
                    event: "price",
                    data: ByteBuffer(string: "\(price)"),
                    timestamp: WallClock.milliseconds()
                ),
                app: harness.app
            )
        }
        let late = try harness.connect()
        await harness.subscribe(late, "cache-price", sign: false)
        let frames = await harness.frames(late)
        #expect(frames.names == ["pusher_internal:subscription_succeeded", "price"])
        #expect(frames[1].string("data") == "2")
    }

    @Test func subscriptionCountsAreSharedWhenTheAppAsks() async throws {
        let harness = PusherHarness { $0.subscriptionCount = true }
        let first = try harness.connect()
        let second = try harness.connect()
        await harness.subscribe(first, "counted", sign: false)
        let own = await harness.frames(first)
        #expect(own.names == ["pusher_internal:subscription_succeeded", "pusher_internal:subscription_count"])
        #expect(own[1].string("data") == #"{"subscription_count":1}"#)
        await harness.subscribe(second, "counted", sign: false)
        #expect(await harness.frames(second).last?.string("data") == #"{"subscription_count":2}"#)
        #expect(await harness.frames(first).map { $0.string("data") } == [#"{"subscription_count":2}"#])
        await harness.send(second, #"{"event":"pusher:unsubscribe","data":{"channel":"counted"}}"#)
        #expect(await harness.frames(first).map { $0.string("data") } == [#"{"subscription_count":1}"#])

        let quiet = PusherHarness()
        let connection = try quiet.connect()
        await quiet.subscribe(connection, "counted", sign: false)
        #expect(await quiet.frames(connection).names == ["pusher_internal:subscription_succeeded"])
    }

    @Test func signinNeedsTheUserSignatureAndJoinsTheUsersChannel() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        let userData = #"{"id":"u42","name":"Zed"}"#
        let auth = PusherSignature.userAuth(key: "pk_test", secret: "sk_test_secret", socketID: connection.socketID, userData: userData)
        await harness.signIn(connection, userData: userData, auth: auth)
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher:signin_success"])
        #expect(frames[0].dataObject?.string("user_data") == userData)
        #expect(connection.userID == "u42")
        #expect(harness.context.registry.connections(app: "1", userID: "u42").count == 1)
        #expect(connection.channels.contains("#server-to-user-u42"))

        let intruder = try harness.connect()
        await harness.signIn(intruder, userData: userData, auth: auth)
        #expect(await harness.frames(intruder).first?.errorCode == 4009)
        #expect(intruder.closeCode == .unauthorized)
        #expect(harness.events(.badSignature).count == 1)
    }

    @Test func signinUserDataPastItsLimitIsRefusedUnreadAndTheConnectionStays() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        let padding = String(repeating: "x", count: PusherConnection.maxUserDataBytes)
        await harness.signIn(connection, userData: #"{"id":"u42","pad":"\#(padding)"}"#)
        let refused = await harness.frames(connection).first("pusher:error")
        #expect(refused?.errorCode == 4300 && connection.userID == nil && connection.closeCode == nil)
        #expect(harness.events(.badRequest).count == 1)
    }

    @Test func pusherJsSubscribingToItsSignedInUsersChannelIsToldItIsIn() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.signIn(connection, userData: #"{"id":"u42"}"#)
        _ = await harness.frames(connection)
        // What pusher-js sends after `signin_success`: the user's channel, with an empty auth.
        await harness.send(connection, ##"{"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-u42"}}"##)
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher_internal:subscription_succeeded"])
        #expect(frames.first?.string("channel") == "#server-to-user-u42")
        #expect(harness.events(.forbidden).isEmpty)

        await harness.send(connection, ##"{"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-u43"}}"##)
        #expect(await harness.frames(connection).names == ["pusher:subscription_error", "pusher:error"])
        #expect(harness.events(.forbidden).count == 1)
        #expect(!connection.channels.contains("#server-to-user-u43"))
    }

    @Test func aSignedInConnectionJoinsPresenceAsItsUserWhenTheAuthNamesNoMember() async throws {
        let harness = PusherHarness()
        let stranger = try harness.connect()
        await harness.subscribe(stranger, "presence-room")
        #expect(await harness.frames(stranger).names == ["pusher:subscription_error", "pusher:error"])

        let connection = try harness.connect()
        await harness.signIn(connection, userData: #"{"id":"u42","user_info":{"name":"Zed"}}"#)
        _ = await harness.frames(connection)
        await harness.subscribe(connection, "presence-room")
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher_internal:subscription_succeeded"])
        let presence = frames.first?.dataObject?.object("presence")
        #expect(presence?.strings("ids") == ["u42"])
        #expect(presence?.object("hash")?.object("u42")?.string("name") == "Zed")
        #expect(try await harness.bus.members(app: "1", channel: "presence-room").map(\.userID) == ["u42"])
    }

    @Test func silenceBringsAServerPingThenA4201() async throws {
        let harness = PusherHarness { $0.activityTimeoutSeconds = 2 }
        let connection = try harness.connect(now: 0)
        #expect(connection.heartbeat(now: 1000) == 2000)
        #expect(connection.heartbeat(now: 2000) == 4000)
        #expect(await harness.frames(connection).names == ["pusher:ping"])
        #expect(connection.heartbeat(now: 4000) == nil)
        #expect(connection.closeCode == .pongNotReceived)
    }

    @Test func aPongKeepsTheConnection() async throws {
        let harness = PusherHarness { $0.activityTimeoutSeconds = 2 }
        let connection = try harness.connect(now: 0)
        _ = connection.heartbeat(now: 2000)
        await harness.send(connection, #"{"event":"pusher:pong","data":{}}"#, now: 3000)
        #expect(connection.heartbeat(now: 4000) == 5000)
        #expect(connection.closeCode == nil)
    }

    @Test func closingLeavesEveryChannelAndPresenceSet() async throws {
        let harness = PusherHarness()
        let stayer = try harness.connect()
        let leaver = try harness.connect()
        await harness.subscribe(stayer, "presence-x", channelData: #"{"user_id":"s"}"#)
        await harness.subscribe(leaver, "presence-x", channelData: #"{"user_id":"l"}"#)
        await harness.subscribe(leaver, "news", sign: false)
        _ = await harness.frames(stayer)
        leaver.terminate(.unauthorized, "bye")
        await leaver.closed()
        #expect(await harness.frames(stayer).names == ["pusher_internal:member_removed"])
        #expect(harness.bus.channels(app: "1") == ["presence-x": 1])
        #expect(try await harness.bus.members(app: "1", channel: "presence-x").map(\.userID) == ["s"])
    }
}

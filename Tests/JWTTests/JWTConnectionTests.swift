import Logging
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// Drives JWT connections against an in-process bus, without sockets.
struct Harness {
    let app: App
    let bus: Bus
    let security = MemorySecurityLog()
    let environment: AdapterEnvironment
    let registry = JWTRegistry()
    let clientLimits: ClientLimits

    init(rules: [ChannelRule] = [], anonymous: Bool = false, clientLimits: ClientLimits = ClientLimits()) {
        self.clientLimits = clientLimits
        var app = App(id: "1", key: "pk", secrets: ["secret"], plan: .enterprise, channelRules: rules)
        app.allowAnonymous = anonymous
        self.app = app
        let registry = AppRegistry(apps: [app])
        self.bus = Bus(engine: MemoryEngine(), apps: registry)
        self.environment = AdapterEnvironment(
            bus: self.bus,
            gate: Gate(apps: registry, security: self.security),
            connections: ConnectionCounter(),
            logger: Logger(label: "test"),
            limits: LiveLimits(.init(client: clientLimits))
        )
    }

    /// Publishes `count` messages to `channel` as the app's server would, their data 1, 2, 3... (or, with `padding`,
    /// strings of that many characters).
    func publishFromServer(_ count: Int, to channel: String, padding: Int? = nil) async throws {
        for index in 1...count {
            let publication = Publication(
                app: self.app.id,
                channel: channel,
                data: ByteBuffer(string: padding.map { "\"" + String(repeating: "x", count: $0) + "\"" } ?? "\(index)"),
                timestamp: WallClock.milliseconds()
            )
            _ = try await self.bus.publish(publication, app: self.app, options: .via("test"))
        }
    }

    func open(now: Int64 = WallClock.milliseconds()) throws -> JWTConnection {
        let id = try self.bus.connect(app: self.app)
        let session = Session(connectionID: id, app: self.app, encoder: JWTEncoder(app: self.app), maxQueuedBytes: self.clientLimits.maxQueuedBytes)
        return JWTConnection(
            session: session,
            clientID: "c\(id.raw)",
            environment: self.environment,
            caller: Caller(ip: "127.0.0.1"),
            registry: self.registry,
            commandsPerSecond: 10,
            burst: 20,
            now: now
        )
    }

    func token(user: String = "u1", expiresIn: Int64 = 60, channels: [String]? = nil, secret: String = "secret") -> String {
        HMACToken.mint(secret: secret, subject: user, expiresAt: WallClock.milliseconds() / 1000 + expiresIn, channels: channels)
    }

    func subToken(_ channel: String, user: String = "u1", expiresIn: Int64 = 60, secret: String = "secret") -> String {
        HMACToken.mint(secret: secret, subject: user, expiresAt: WallClock.milliseconds() / 1000 + expiresIn, channel: channel)
    }

    /// A new connection's subscribe to `channel` recovering from `offset` in `epoch`: its reply and the offsets replayed.
    func recovering(after offset: Int, epoch: String, channel: String = "room") async throws -> (result: JSONObject, replayed: [Int64]) {
        let connection = try await self.connected()
        await connection.send(
            #"{"id":2,"subscribe":{"channel":"\#(channel)","recoverable":true,"recover":true,"offset":\#(offset),"epoch":"\#(epoch)"}}"#
        )
        let frames = connection.drained()
        let result = try #require(frames.first?.object("subscribe"))
        return (result, Self.offsets(in: result) + frames.dropFirst().compactMap { $0.push?.object("pub")?.integer("offset") })
    }

    /// The offsets of the publications a subscribe (or connect `subs`) result carries.
    static func offsets(in result: JSONObject) -> [Int64] {
        let elements = result.raw("publications").flatMap { JSONArrayElements.split($0) } ?? []
        return elements.compactMap { try? JSONObject(parsing: $0).integer("offset") }
    }

    /// A connection that has connected as `user` with a token expiring in `expiresIn` seconds, its connect reply drained.
    func connected(user: String = "u1", expiresIn: Int64 = 60, channels: [String]? = nil) async throws -> JWTConnection {
        let connection = try self.open()
        await connection.send(#"{"id":1,"connect":{"token":"\#(self.token(user: user, expiresIn: expiresIn, channels: channels))"}}"#)
        _ = connection.drained()
        return connection
    }

    /// A connection of `user` subscribed to `presence-room` with its subscription token, its replies drained.
    func inPresenceRoom(user: String, joinLeave: Bool = true) async throws -> JWTConnection {
        let connection = try await self.connected(user: user)
        let token = self.subToken("presence-room", user: user)
        await connection.send(#"{"id":2,"subscribe":{"channel":"presence-room","token":"\#(token)","join_leave":\#(joinLeave)}}"#)
        _ = connection.drained()
        return connection
    }

    var eventKinds: [String] { self.security.events(SecurityEventQuery()).map(\.kind.name) }
}

extension JWTConnection {
    func send(_ text: String) async { await self.receive(ByteBuffer(string: text)) }

    /// Everything queued for the client so far, as parsed frames.
    func drained() -> [JSONObject] {
        self.session.takeQueued().compactMap { try? JSONObject(parsing: $0.bytes) }
    }

    /// Ticks the clock `open` ms after `now` (the connection stays), then `ended` ms after it (it ends with `reason`).
    func expectLasts(from now: Int64, open: Int64, endsAs reason: JWTDisconnect, at ended: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
        self.tick(now: now + open)
        #expect(self.disconnectReason == nil, sourceLocation: sourceLocation)
        self.tick(now: now + ended)
        #expect(self.disconnectReason == reason, sourceLocation: sourceLocation)
    }
}

extension JSONObject {
    var errorCode: Int64? { self.object("error")?.integer("code") }
    var push: JSONObject? { self.object("push") }
}

@Suite struct JWTConnectionTests {
    @Test func connectReplyCarriesClientPingPongAndExpiry() async throws {
        let h = Harness()
        let connection = try h.open()
        await connection.send(#"{"id":1,"connect":{"token":"\#(h.token(expiresIn: 30))"}}"#)
        let reply = try #require(connection.drained().first)
        #expect(reply.integer("id") == 1)
        let connect = try #require(reply.object("connect"))
        #expect(connect.string("client") == connection.clientID)
        #expect(connect.integer("ping") == 25)
        #expect(connect.bool("pong") == true)
        #expect(connect.bool("expires") == true)
        #expect((connect.integer("ttl") ?? 0) > 25)
        #expect(connection.user == "u1")
    }

    @Test func expiredConnectionTokenGets109AndStaysOpen() async throws {
        let h = Harness()
        let connection = try h.open()
        await connection.send(#"{"id":1,"connect":{"token":"\#(h.token(expiresIn: -5))"}}"#)
        #expect(connection.drained().first?.errorCode == 109)
        #expect(connection.disconnectReason == nil)
        #expect(h.eventKinds == ["token_expired"])
    }

    @Test func foreignSecretAndAlgNoneDisconnectWithInvalidToken() async throws {
        let h = Harness()
        let foreign = try h.open()
        await foreign.send(#"{"id":1,"connect":{"token":"\#(h.token(secret: "another-app"))"}}"#)
        #expect(foreign.disconnectReason == .invalidToken)
        let none = try h.open()
        let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSJ9."
        await none.send(#"{"id":1,"connect":{"token":"\#(unsigned)"}}"#)
        #expect(none.disconnectReason == .invalidToken)
        #expect(h.eventKinds.sorted() == ["bad_signature", "token_invalid"])
    }

    @Test func anonymousNeedsTheAppToAllowIt() async throws {
        let closed = try Harness().open()
        await closed.send(#"{"id":1,"connect":{}}"#)
        // Centrifugo: no credentials is "client credentials not found", a bad request (3501) with no reply.
        #expect(closed.drained().isEmpty)
        #expect(closed.disconnectReason == .badRequest)
        let open = try Harness(anonymous: true).open()
        await open.send(#"{"id":1,"connect":{}}"#)
        #expect(open.drained().first?.object("connect")?.string("client") == open.clientID)
        #expect(open.user == "")
    }

    @Test func publishReachesSubscribersAsPubPushWithOffsetAndUser() async throws {
        let h = Harness()
        let alice = try await h.connected(user: "alice")
        let bob = try await h.connected(user: "bob")
        await bob.send(#"{"id":2,"subscribe":{"channel":"room","recoverable":true}}"#)
        let subscribed = try #require(bob.drained().first?.object("subscribe"))
        #expect(subscribed.bool("recoverable") == true)
        #expect(subscribed.integer("offset") == 0)
        await alice.send(#"{"id":2,"publish":{"channel":"room","data":{"text":"hi"}}}"#)
        #expect(alice.drained().first?.object("publish") != nil)
        let push = try #require(bob.drained().first?.push)
        #expect(push.string("channel") == "room")
        let pub = try #require(push.object("pub"))
        #expect(pub.raw("data").map { String(buffer: $0) } == #"{"text":"hi"}"#)
        #expect(pub.integer("offset") == 1)
        #expect(pub.object("info")?.string("user") == "alice")
    }

    /// Centrifugo's `info` on a client's publication: its client id and its connection token's `info` claim.
    @Test func aClientsPublicationCarriesItsClientIDAndConnInfoToSubscribersAndHistory() async throws {
        let h = Harness()
        let alice = try h.open()
        let token = HMACToken.mint(
            secret: "secret",
            subject: "alice",
            expiresAt: WallClock.milliseconds() / 1000 + 60,
            info: ByteBuffer(string: #"{"name":"Alice"}"#)
        )
        await alice.send(#"{"id":1,"connect":{"token":"\#(token)"}}"#)
        _ = alice.drained()
        let bob = try await h.connected(user: "bob")
        await bob.send(#"{"id":2,"subscribe":{"channel":"room"}}"#)
        _ = bob.drained()
        await alice.send(#"{"id":2,"publish":{"channel":"room","data":1}}"#)
        await bob.send(#"{"id":3,"history":{"channel":"room","limit":10}}"#)
        let frames = bob.drained()
        let pushed = try #require(frames.first?.push?.object("pub"))
        let kept = try #require(frames.last?.object("history")?.raw("publications").flatMap { JSONArrayElements.split($0, limit: 10) })
        #expect(kept.count == 1)
        for pub in [pushed] + (try kept.map { try JSONObject(parsing: $0) }) {
            let info = try #require(pub.object("info"))
            #expect(info.string("client") == alice.clientID && info.string("user") == "alice")
            #expect(info.raw("conn_info").map { String(buffer: $0) } == #"{"name":"Alice"}"#)
        }
    }

    @Test func severalCommandsInOneFrameAreAnsweredInOrder() async throws {
        let h = Harness()
        let connection = try h.open()
        await connection.send(
            "{\"id\":1,\"connect\":{\"token\":\"\(h.token())\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{\"id\":3,\"subscribe\":{\"channel\":\"a\"}}"
        )
        let replies = connection.drained()
        #expect(replies.map { $0.integer("id") } == [1, 2, 3])
        #expect(replies[2].errorCode == 105)
    }

    @Test func protectedChannelNeedsAMatchingSubscriptionToken() async throws {
        let h = Harness()
        let watcher = try await h.connected(user: "w")
        await watcher.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a", user: "w"))"}}"#)
        #expect(watcher.drained().first?.object("subscribe") != nil)

        let missing = try await h.connected()
        await missing.send(#"{"id":2,"subscribe":{"channel":"private-a"}}"#)
        #expect(missing.drained().first?.errorCode == 103)

        let expired = try await h.connected()
        await expired.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a", expiresIn: -5))"}}"#)
        #expect(expired.drained().first?.errorCode == 109)

        let wrongChannel = try await h.connected()
        await wrongChannel.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-b"))"}}"#)
        #expect(wrongChannel.disconnectReason == .invalidToken)

        let wrongUser = try await h.connected(user: "mallory")
        await wrongUser.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a", user: "u1"))"}}"#)
        #expect(wrongUser.disconnectReason == .invalidToken)
        #expect(watcher.drained().isEmpty)
        #expect(h.bus.channels(app: "1")["private-a"] == 1)
    }

    @Test func clientPublishFollowsTheChannelRule() async throws {
        let h = Harness(rules: [ChannelRule(match: "news:*", clientPublish: false)])
        let connection = try await h.connected()
        await connection.send(#"{"id":2,"publish":{"channel":"news:1","data":1}}"#)
        #expect(connection.drained().first?.errorCode == 103)
        #expect(h.eventKinds == ["forbidden"])
    }

    @Test func garbageAndFloodsDisconnectAndOthersSeeNothing() async throws {
        let h = Harness()
        let watcher = try await h.connected(user: "w")
        await watcher.send(#"{"id":2,"subscribe":{"channel":"room"}}"#)
        _ = watcher.drained()
        let garbage = try await h.connected()
        await garbage.send("not json at all")
        #expect(garbage.disconnectReason == .badRequest)
        let early = try h.open()
        await early.send(#"{"id":1,"publish":{"channel":"room","data":1}}"#)
        #expect(early.disconnectReason == .badRequest)
        let flood = try await h.connected()
        for index in 0..<40 { await flood.send(#"{"id":\#(index + 2),"publish":{"channel":"room","data":1}}"#) }
        #expect(flood.disconnectReason == .tooManyRequests)
        #expect(watcher.drained().count < 40)
        #expect(h.eventKinds.contains("rate_limited"))
        #expect(h.eventKinds.filter { $0 == "bad_request" }.count == 2)
    }

    @Test func recoveryReplaysMissedPublicationsWithNoGapOrDuplicate() async throws {
        let h = Harness()
        let publisher = try await h.connected(user: "p")
        for index in 1...5 { await publisher.send(#"{"id":\#(index + 1),"publish":{"channel":"room","data":\#(index)}}"#) }
        let reader = try await h.connected()
        await reader.send(
            #"{"id":2,"subscribe":{"channel":"room","recoverable":true,"recover":true,"offset":2,"epoch":"\#(try await h.epoch("room"))"}}"#
        )
        let frames = reader.drained()
        let result = try #require(frames.first?.object("subscribe"))
        #expect(result.bool("was_recovering") == true)
        #expect(result.bool("recovered") == true)
        // As Centrifugo answers: the missed publications in the reply, whose offset is the stream's top; no push repeats them.
        #expect(Harness.offsets(in: result) == [3, 4, 5] && result.integer("offset") == 5)
        #expect(frames.dropFirst().compactMap { $0.push?.object("pub")?.integer("offset") } == [])
    }

    @Test func aClientThatMissedMoreThan300PublicationsIsNotRecoveredAndGetsNoReplay() async throws {
        let h = Harness()
        try await h.publishFromServer(305, to: "room")
        let epoch = try await h.epoch("room")
        let far = try await h.recovering(after: 4, epoch: epoch)
        #expect(far.result.bool("was_recovering") == true && far.result.bool("recovered") == false)
        #expect(far.replayed.isEmpty)
        // 300 missed are recovered.
        let near = try await h.recovering(after: 5, epoch: epoch)
        #expect(near.result.bool("recovered") == true)
        #expect(near.replayed.count == 300)
    }

    @Test func aClientThatMissedMoreBytesThanHalfItsQueueIsNotRecoveredAndGetsNoReplay() async throws {
        var limits = ClientLimits()
        limits.maxQueuedBytes = 64 * 1024
        let h = Harness(clientLimits: limits)
        try await h.publishFromServer(5, to: "room", padding: 20_000)
        let epoch = try await h.epoch("room")
        // Three missed messages of 20 KB pass half of a 64 KB queue: Centrifugo's answer, not a replay cut short.
        let far = try await h.recovering(after: 2, epoch: epoch)
        #expect(far.result.bool("was_recovering") == true && far.result.bool("recovered") == false)
        #expect(far.replayed.isEmpty)
        // One missed message fits, and is recovered.
        let near = try await h.recovering(after: 4, epoch: epoch)
        #expect(near.result.bool("recovered") == true)
        #expect(near.replayed == [5])
    }

    @Test func aClientsHistoryAnswerHoldsAtMostHalfItsQueueAndPagingWithSinceGetsTheRest() async throws {
        var limits = ClientLimits()
        limits.maxQueuedBytes = 64 * 1024
        let h = Harness(clientLimits: limits)
        try await h.publishFromServer(5, to: "room", padding: 20_000)
        let epoch = try await h.epoch("room")
        let connection = try await h.connected()
        // 100 KB kept, 32 KB answered: one 20 KB message a page, forward, backward, and backward from a position.
        await connection.send(#"{"id":2,"history":{"channel":"room","limit":5}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [1])
        await connection.send(#"{"id":3,"history":{"channel":"room","limit":5,"since":{"offset":1,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [2])
        await connection.send(#"{"id":4,"history":{"channel":"room","limit":5,"reverse":true}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [5])
        await connection.send(#"{"id":5,"history":{"channel":"room","limit":5,"reverse":true,"since":{"offset":5,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [4])
        #expect(connection.disconnectReason == nil)
    }

    @Test func reverseHistoryBeforeAPositionReadsOnlyWhatItReturns() async throws {
        let h = Harness()
        try await h.publishFromServer(50, to: "room")
        let epoch = try await h.epoch("room")
        let connection = try await h.connected()
        await connection.send(#"{"id":2,"history":{"channel":"room","limit":3,"reverse":true,"since":{"offset":10,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [9, 8, 7])
        await connection.send(#"{"id":3,"history":{"channel":"room","limit":5,"reverse":true,"since":{"offset":3,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [2, 1])
        await connection.send(#"{"id":4,"history":{"channel":"room","limit":2,"reverse":true}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [50, 49])
        // Read four at a time (half the 8 MB queue holds four of the plan's 1 MB messages), still one answer.
        await connection.send(#"{"id":5,"history":{"channel":"room","limit":10,"reverse":true,"since":{"offset":40,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == Array((30...39).reversed()))
        await connection.send(#"{"id":6,"history":{"channel":"room","limit":10,"since":{"offset":40,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == Array(41...50))
    }

    @Test func recoveryFromAnotherEpochIsNotRecovered() async throws {
        let h = Harness()
        let reader = try await h.connected()
        await reader.send(#"{"id":2,"subscribe":{"channel":"room","recoverable":true,"recover":true,"offset":2,"epoch":"old"}}"#)
        let result = try #require(reader.drained().first?.object("subscribe"))
        #expect(result.bool("was_recovering") == true)
        #expect(result.bool("recovered") == false)
    }

    @Test func historyHonoursLimitSinceAndReverse() async throws {
        let h = Harness()
        let connection = try await h.connected()
        for index in 1...5 { await connection.send(#"{"id":\#(index + 1),"publish":{"channel":"room","data":\#(index)}}"#) }
        _ = connection.drained()
        await connection.send(#"{"id":10,"history":{"channel":"room","limit":2}}"#)
        let first = try #require(connection.drained().first?.object("history"))
        #expect(Self.offsets(first) == [1, 2])
        #expect(first.integer("offset") == 5)
        await connection.send(#"{"id":11,"history":{"channel":"room","limit":100,"reverse":true}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [5, 4, 3, 2, 1])
        // A negative limit asks for everything kept, up to the cap of 300.
        await connection.send(#"{"id":14,"history":{"channel":"room","limit":-1}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [1, 2, 3, 4, 5])
        let epoch = try await h.epoch("room")
        await connection.send(#"{"id":12,"history":{"channel":"room","limit":10,"since":{"offset":3,"epoch":"\#(epoch)"}}}"#)
        #expect(Self.offsets(try #require(connection.drained().first?.object("history"))) == [4, 5])
        await connection.send(#"{"id":13,"history":{"channel":"room","limit":10,"since":{"offset":3,"epoch":"nope"}}}"#)
        #expect(connection.drained().first?.errorCode == 112)
    }

    @Test func historyReturnsAtMost300PublicationsForANegativeOrLargerLimit() async throws {
        let h = Harness()
        try await h.publishFromServer(310, to: "room")
        let connection = try await h.connected()
        for (id, limit) in [(2, -1), (3, 1_000)] {
            await connection.send(#"{"id":\#(id),"history":{"channel":"room","limit":\#(limit)}}"#)
            let history = try #require(connection.drained().first?.object("history"))
            #expect(Self.offsets(history) == Array(1...300))
            #expect(history.integer("offset") == 310)
        }
    }

    static func offsets(_ history: JSONObject) -> [Int64] {
        guard let raw = history.raw("publications") else { return [] }
        let text = String(buffer: raw)
        return text.split(separator: "\"offset\":").dropFirst().compactMap { Int64($0.prefix { $0.isNumber }) }
    }

    @Test func presenceJoinLeaveAndStats() async throws {
        let h = Harness()
        let alice = try await h.inPresenceRoom(user: "alice")
        let bob = try await h.inPresenceRoom(user: "bob")
        let join = try #require(alice.drained().first?.push?.object("join"))
        #expect(join.object("info")?.string("user") == "bob")
        await alice.send(#"{"id":3,"presence_stats":{"channel":"presence-room"}}"#)
        let stats = try #require(alice.drained().first?.object("presence_stats"))
        #expect(stats.integer("num_users") == 2)
        await alice.send(#"{"id":4,"presence":{"channel":"presence-room"}}"#)
        let presence = try #require(alice.drained().first?.object("presence")?.object("presence"))
        #expect(presence.keys.count == 2)
        await bob.closed()
        #expect(alice.drained().first?.push?.object("leave")?.object("info")?.string("user") == "bob")
    }

    /// As in Centrifugo, a subscription hears joins and leaves only when its client asks (`join_leave`); presence itself
    /// still lists everyone.
    @Test func aSubscriptionThatDidNotAskForJoinLeaveHearsNone() async throws {
        let h = Harness()
        let quiet = try await h.inPresenceRoom(user: "alice", joinLeave: false)
        let bob = try await h.inPresenceRoom(user: "bob")
        #expect(quiet.drained().isEmpty)
        await quiet.send(#"{"id":3,"presence":{"channel":"presence-room"}}"#)
        #expect(quiet.drained().first?.object("presence")?.object("presence")?.keys.count == 2)
        await bob.closed()
        #expect(quiet.drained().isEmpty)
        // Asked for on the next subscription of the channel, they are heard again.
        await quiet.send(#"{"id":4,"unsubscribe":{"channel":"presence-room"}}"#)
        let token = h.subToken("presence-room", user: "alice")
        await quiet.send(#"{"id":5,"subscribe":{"channel":"presence-room","token":"\#(token)","join_leave":true}}"#)
        _ = quiet.drained()
        let carol = try await h.inPresenceRoom(user: "carol")
        #expect(quiet.drained().first?.push?.object("join")?.object("info")?.string("user") == "carol")
        _ = carol
    }

    /// Centrifugo lists clients, not users: a user's second connection is a client of its own, joins and leaves with
    /// pushes that name it, and counts in `num_clients` but not in `num_users`.
    @Test func aUsersSecondConnectionIsAClientOfItsOwnInPresenceAndInJoinAndLeavePushes() async throws {
        let h = Harness()
        let first = try await h.inPresenceRoom(user: "alice")
        let second = try await h.inPresenceRoom(user: "alice")
        let join = try #require(first.drained().first?.push?.object("join")?.object("info"))
        #expect(join.string("client") == second.clientID && join.string("user") == "alice")
        await first.send(#"{"id":3,"presence_stats":{"channel":"presence-room"}}"#)
        let stats = try #require(first.drained().first?.object("presence_stats"))
        #expect(stats.integer("num_clients") == 2 && stats.integer("num_users") == 1)
        await first.send(#"{"id":4,"presence":{"channel":"presence-room"}}"#)
        let presence = try #require(first.drained().first?.object("presence")?.object("presence"))
        #expect(Set(presence.keys) == [first.clientID, second.clientID])
        #expect(presence.object(second.clientID)?.string("client") == second.clientID)
        await first.closed()
        let leave = try #require(second.drained().first?.push?.object("leave")?.object("info"))
        #expect(leave.string("client") == first.clientID)
        await second.send(#"{"id":3,"presence_stats":{"channel":"presence-room"}}"#)
        let after = try #require(second.drained().first?.object("presence_stats"))
        #expect(after.integer("num_clients") == 1 && after.integer("num_users") == 1)
    }

    @Test func refreshExtendsTheConnectionAndExpiryDisconnects() async throws {
        let h = Harness()
        let connection = try await h.connected(expiresIn: 5)
        let now = WallClock.milliseconds()
        await connection.send(#"{"id":2,"refresh":{"token":"\#(h.token(expiresIn: 600))"}}"#)
        #expect(connection.drained().first?.object("refresh")?.bool("expires") == true)
        connection.tick(now: now + 60_000)
        #expect(connection.disconnectReason == nil)
        #expect(connection.drained().first.map { $0.keys.isEmpty } == true, "a ping after the interval")
        connection.tick(now: now + 601_000 + 10_000)
        #expect(connection.disconnectReason != nil)
    }

    @Test func expiredConnectionWithoutRefreshIsDisconnectedWith3005() async throws {
        let h = Harness()
        let connection = try await h.connected(expiresIn: 5)
        connection.tick(now: WallClock.milliseconds() + 8_000)
        #expect(connection.disconnectReason == .expired)
    }

    @Test func serverSideSubscriptionsFromTheChannelsClaim() async throws {
        let h = Harness()
        let connection = try h.open()
        await connection.send(#"{"id":1,"connect":{"token":"\#(h.token(channels: ["news", "alerts"]))"}}"#)
        let subs = try #require(connection.drained().first?.object("connect")?.object("subs"))
        #expect(Set(subs.keys) == ["news", "alerts"])
        #expect(connection.channels == ["news", "alerts"])
    }

    @Test func aSubscriberThePresenceSetRefusesIsNotSubscribed() async throws {
        var rule = ChannelRule(match: "room:*")
        rule.presence = true
        let h = Harness(rules: [rule])
        var app = h.app
        app.maxPresenceMembers = 1
        h.bus.apps.upsert(app)
        let first = try await h.connected(user: "u1")
        let second = try await h.connected(user: "u2")
        await first.send(#"{"id":2,"subscribe":{"channel":"room:a"}}"#)
        #expect(first.drained().first?.object("subscribe") != nil)
        await second.send(#"{"id":2,"subscribe":{"channel":"room:a"}}"#)
        #expect(second.drained().first?.errorCode == 106)
        #expect(second.channels.isEmpty && first.channels == ["room:a"])
        #expect(try await h.bus.members(app: h.app.id, channel: "room:a").map(\.userID) == ["u1"])
    }

    @Test func aTokensChannelsMeetThePlansCapAndTheReservedNamespacesAsASubscribeWould() async throws {
        let h = Harness()
        var app = h.app
        app.plan.maxSubscriptionsPerConnection = 3
        h.bus.apps.upsert(app)
        let connection = try h.open()
        let named = ["#server-to-user-u2", "#online-u2", "a", "b", "c", "d", "e"]
        await connection.send(#"{"id":1,"connect":{"token":"\#(h.token(channels: named))"}}"#)
        #expect(connection.drained().first?.object("connect") != nil)
        #expect(connection.channels == ["a", "b", "c"])
        #expect(h.eventKinds.filter { $0 == "forbidden" }.count == 2 && h.eventKinds.contains("over_quota"))
    }
}

extension Harness {
    func epoch(_ channel: String) async throws -> String {
        try await self.bus.history(app: self.app, channel: channel, after: 0, limit: 0).latest?.epoch ?? ""
    }
}

import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardRedis

@Suite("Redis wire codec")
struct RedisWireCodecTests {
    @Test func publicationRoundTripsWithDataUntouched() throws {
        let codec = RedisWireCodec(nodeID: "node-a")
        let data = ByteBuffer(string: "{\"text\":\"h\u{e9}llo\",\"n\":1}")
        let publication = Publication(
            app: "app:1",
            channel: "chat:room",
            event: "msg",
            data: data,
            userID: "u1",
            sender: ConnectionID(42),
            timestamp: 1_700_000_000_123
        )
        let message = try codec.decodePayload(codec.payload(publication))
        guard case .publication(let decoded) = message else {
            Issue.record("not a publication")
            return
        }
        #expect(decoded.app == "app:1" && decoded.channel == "chat:room" && decoded.event == "msg" && decoded.userID == "u1")
        #expect(decoded.data == data)
        #expect(decoded.sender == ConnectionID(42))
        #expect(decoded.timestamp == 1_700_000_000_123)
        #expect(decoded.position == nil)
    }

    /// Connection ids are unique across nodes, so a sender named on node A (a Pusher `socket_id`) is excluded on node B.
    @Test func anotherNodesSenderIsKept() throws {
        let publication = Publication(app: "a", channel: "c", data: ByteBuffer(string: "1"), sender: ConnectionID(7), timestamp: 1)
        let decoded = try RedisWireCodec(nodeID: "node-b").decodePublication(RedisWireCodec(nodeID: "node-a").encode(publication))
        #expect(decoded.sender == ConnectionID(7))
    }

    @Test func tagsClientIDAndConnInfoRoundTrip() throws {
        let codec = RedisWireCodec(nodeID: "n")
        let publication = Publication(
            app: "a",
            channel: "c",
            event: "chat",
            data: ByteBuffer(string: #"{"n":1}"#),
            userID: "ada",
            timestamp: 3,
            tags: ["k": "v", "region": "eu"],
            clientID: "client-7",
            connInfo: ByteBuffer(string: #"{"name":"Ada"}"#)
        )
        let decoded = try codec.decodePublication(codec.encode(publication), position: StreamPosition(offset: 4, epoch: "e"))
        #expect(decoded.tags == ["k": "v", "region": "eu"] && decoded.event == "chat")
        #expect(decoded.clientID == "client-7" && decoded.connInfo == ByteBuffer(string: #"{"name":"Ada"}"#))
        #expect(decoded.data == ByteBuffer(string: #"{"n":1}"#) && decoded.userID == "ada")
    }

    /// A cluster mid-upgrade: a body from a node that knows no tags decodes here, and an older node, which stops
    /// reading after `data`, sees this node's plain body byte for byte as it wrote it.
    @Test func aPublicationWithoutExtrasKeepsTheOldBodyAndAnOldBodyDecodes() throws {
        let codec = RedisWireCodec(nodeID: "n")
        let plain = Publication(app: "a", channel: "c", data: ByteBuffer(string: "1"), timestamp: 9)
        var body = codec.encode(plain)
        // version, timestamp, app, channel, no event, no user, no sender, data: nothing after it.
        #expect(body.readableBytes == 1 + 8 + (4 + 1) + (4 + 1) + 1 + 1 + 1 + (4 + 1))
        body.moveReaderIndex(forwardBy: body.readableBytes - 1)
        #expect(body.readableBytesView.first == UInt8(ascii: "1"))
        let decoded = try codec.decodePublication(codec.encode(plain))
        #expect(decoded.tags.isEmpty && decoded.clientID == nil && decoded.connInfo == nil)
    }

    @Test func aFieldFromANewerNodeIsSkipped() throws {
        let codec = RedisWireCodec(nodeID: "n")
        var body = codec.encode(Publication(app: "a", channel: "c", data: ByteBuffer(string: "1"), timestamp: 9, clientID: "c1"))
        body.writeInteger(UInt8(200))
        body.writeInteger(UInt32(3))
        body.writeString("xyz")
        let decoded = try codec.decodePublication(body)
        #expect(decoded.clientID == "c1")
        var truncated = body
        truncated.moveWriterIndex(to: truncated.writerIndex - 1)
        #expect(throws: RedisWireCodec.DecodeError.self) { try codec.decodePublication(truncated) }
    }

    @Test func positionPrefixWrittenByTheScriptIsRead() throws {
        let codec = RedisWireCodec(nodeID: "n")
        var payload = ByteBuffer(string: "h17:abcd0123:")
        var body = codec.encode(Publication(app: "a", channel: "c", data: ByteBuffer(string: "null"), timestamp: 5))
        payload.writeBuffer(&body)
        guard case .publication(let decoded) = try codec.decodePayload(payload) else {
            Issue.record("not a publication")
            return
        }
        #expect(decoded.position == StreamPosition(offset: 17, epoch: "abcd0123"))
    }

    @Test func presenceChangeRoundTrips() throws {
        let codec = RedisWireCodec(nodeID: "n")
        let change = PresenceChange(
            app: "a",
            channel: "presence-x",
            kind: .leave,
            member: PresenceMember(userID: "u", metadata: ByteBuffer(string: "{\"n\":1}"), lastSeen: 9),
            timestamp: 10
        )
        guard case .presence(let decoded) = try codec.decodePayload(codec.payload(change)) else {
            Issue.record("not presence")
            return
        }
        #expect(decoded.kind == .leave && decoded.member == change.member && decoded.timestamp == 10 && decoded.channel == "presence-x")
    }

    @Test func aPresenceChangesCauseRoundTripsAcrossNodes() throws {
        let member = PresenceMember(userID: "u", metadata: ByteBuffer(string: "{}"), lastSeen: 9)
        let change = PresenceChange(app: "a", channel: "presence-x", kind: .join, member: member, timestamp: 10, cause: ConnectionID(77))
        let payload = RedisWireCodec(nodeID: "node-a").payload(change)
        guard case .presence(let decoded) = try RedisWireCodec(nodeID: "node-b").decodePayload(payload) else {
            Issue.record("not presence")
            return
        }
        #expect(decoded.cause == ConnectionID(77) && decoded.member == member && decoded.kind == .join)
        #expect(BusMessage.presence(decoded).sender == ConnectionID(77))
    }

    /// A member's further connections reach JWT subscribers on every node, naming the client that came or went.
    @Test func aConnectionLevelChangeAndWhatItsHolderJoinedWithRoundTripAcrossNodes() throws {
        let member = PresenceMember(userID: "u", metadata: ByteBuffer(string: #"{"client":"c1"}"#), lastSeen: 9)
        for kind in [PresenceChange.Kind.connectionJoin, .connectionLeave, .leave] {
            let tab = ByteBuffer(string: #"{"client":"c2"}"#)
            let change = PresenceChange(app: "a", channel: "presence-x", kind: kind, member: member, timestamp: 10, holderMetadata: tab)
            guard case .presence(let decoded) = try RedisWireCodec(nodeID: "n2").decodePayload(RedisWireCodec(nodeID: "n1").payload(change)) else {
                Issue.record("not presence")
                return
            }
            #expect(decoded.kind == kind && decoded.member == member && decoded.holderMetadata == tab)
        }
    }

    @Test func aPresenceChangeWithoutACauseKeepsTheOldBodyAndOldNodesReadANewOne() throws {
        let codec = RedisWireCodec(nodeID: "n")
        let member = PresenceMember(userID: "u", metadata: ByteBuffer(string: "null"), lastSeen: 1)
        var change = PresenceChange(app: "a", channel: "presence-x", kind: .join, member: member, timestamp: 2)
        let old = codec.encode(change)
        #expect(try codec.decodePresence(old).cause == nil)
        change.cause = ConnectionID(5)
        let new = codec.encode(change)
        // An older node reads the fields it knows and stops after `metadata`: the new body starts with the old one.
        #expect(new.readableBytesView.starts(with: old.readableBytesView) && new.readableBytes > old.readableBytes)
    }

    @Test func aPresenceFieldFromANewerNodeIsSkipped() throws {
        let codec = RedisWireCodec(nodeID: "n")
        let member = PresenceMember(userID: "u", metadata: ByteBuffer(string: "null"), lastSeen: 1)
        var body = codec.encode(PresenceChange(app: "a", channel: "presence-x", kind: .leave, member: member, timestamp: 2, cause: ConnectionID(3)))
        body.writeInteger(UInt8(200))
        body.writeInteger(UInt32(2))
        body.writeBytes([7, 7])
        let decoded = try codec.decodePresence(body)
        #expect(decoded.cause == ConnectionID(3) && decoded.kind == .leave)
    }

    @Test func garbageIsAnErrorNotACrash() {
        let codec = RedisWireCodec(nodeID: "n")
        for bytes: [UInt8] in [[], [0x70], [0x70, 1, 0, 0], [0x68, 0x31], [0x63, 1, 9]] {
            #expect(throws: RedisWireCodec.DecodeError.self) { try codec.decodePayload(ByteBuffer(bytes: bytes)) }
        }
    }

    @Test func channelIDsParseBack() {
        let keys = RedisKeys(prefix: "sb")
        let id = keys.channelID(app: "a:b", channel: "c:d")
        let parsed = RedisKeys.parse(channelID: id)
        #expect(parsed?.app == "a:b" && parsed?.channel == "c:d")
        #expect(keys.channelID(app: "a", channel: "b:c") != id)
    }
}

import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

@Suite struct JWTEncoderTests {
    @Test func publicationBecomesAPubPushWithTagsAndInfo() throws {
        let publication = Publication(
            app: "1",
            channel: "room",
            event: "chat",
            data: ByteBuffer(string: #"{"a":1}"#),
            userID: "ada",
            position: StreamPosition(offset: 7, epoch: "e"),
            timestamp: 0
        )
        let frame = try #require(JWTEncoder().frame(for: .publication(publication)))
        #expect(
            String(buffer: frame)
                == #"{"push":{"channel":"room","pub":{"data":{"a":1},"offset":7,"tags":{"event":"chat"},"info":{"user":"ada","client":""}}}}"#
        )
    }

    @Test func extraTagsSitBesideTheEventAndAClientsInfoNamesItsClientAndConnInfo() throws {
        let publication = Publication(
            app: "1",
            channel: "room",
            event: "chat",
            data: ByteBuffer(string: "1"),
            userID: "ada",
            timestamp: 0,
            tags: ["k": "v"],
            clientID: "c9",
            connInfo: ByteBuffer(string: #"{"n":1}"#)
        )
        let frame = try #require(JWTEncoder().frame(for: .publication(publication)))
        #expect(
            String(buffer: frame)
                == #"{"push":{"channel":"room","pub":{"data":1,"tags":{"event":"chat","k":"v"},"info":{"user":"ada","client":"c9","conn_info":{"n":1}}}}}"#
        )
    }

    /// An anonymous client's publication still names its client; a server API publication has neither tags nor info.
    @Test func anAnonymousClientHasInfoAndAServerPublicationHasNone() throws {
        let anonymous = Publication(app: "1", channel: "room", data: ByteBuffer(string: "1"), timestamp: 0, tags: ["k": "v"], clientID: "c1")
        #expect(
            String(buffer: try #require(JWTEncoder().frame(for: .publication(anonymous))))
                == #"{"push":{"channel":"room","pub":{"data":1,"tags":{"k":"v"},"info":{"user":"","client":"c1"}}}}"#
        )
        let server = Publication(app: "1", channel: "room", data: ByteBuffer(string: "1"), timestamp: 0)
        #expect(String(buffer: try #require(JWTEncoder().frame(for: .publication(server)))) == #"{"push":{"channel":"room","pub":{"data":1}}}"#)
    }

    @Test func presenceChangesBecomeJoinAndLeaveUnlessTheRuleTurnsThemOff() throws {
        let member = PresenceMember(userID: "bob", metadata: ByteBuffer(string: #"{"client":"c9","conn_info":{"n":1}}"#), lastSeen: 0)
        let join = PresenceChange(app: "1", channel: "presence-room", kind: .join, member: member, timestamp: 0)
        let frame = try #require(JWTEncoder().frame(for: .presence(join)))
        #expect(String(buffer: frame) == #"{"push":{"channel":"presence-room","join":{"info":{"client":"c9","user":"bob","conn_info":{"n":1}}}}}"#)
        var quiet = ChannelRule(match: "presence-*")
        quiet.joinLeave = false
        let app = App(id: "1", key: "k", secrets: ["s"], channelRules: [quiet])
        #expect(JWTEncoder(app: app).frame(for: .presence(join)) == nil)
        let update = PresenceChange(app: "1", channel: "x", kind: .update, member: member, timestamp: 0)
        #expect(JWTEncoder().frame(for: .presence(update)) == nil)
    }

    /// A member's further connections come and go as clients of their own, and a leave names the client that left.
    @Test func aConnectionOfAMemberJoinsAndLeavesUnderItsOwnClient() throws {
        let member = PresenceMember(userID: "bob", metadata: ByteBuffer(string: #"{"client":"c1"}"#), lastSeen: 0)
        let tab = ByteBuffer(string: #"{"client":"c2","chan_info":{"tab":2}}"#)
        for (kind, push) in [(PresenceChange.Kind.connectionJoin, "join"), (.connectionLeave, "leave"), (.leave, "leave")] {
            let change = PresenceChange(app: "1", channel: "presence-room", kind: kind, member: member, timestamp: 0, holderMetadata: tab)
            #expect(
                String(buffer: try #require(JWTEncoder().frame(for: .presence(change))))
                    == #"{"push":{"channel":"presence-room","\#(push)":{"info":{"client":"c2","user":"bob","chan_info":{"tab":2}}}}}"#
            )
        }
    }
}

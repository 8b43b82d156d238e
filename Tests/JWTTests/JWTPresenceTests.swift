import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// How a channel's members, which every protocol shares, are listed to JWT clients: by client, as Centrifugo lists them.
@Suite struct JWTPresenceTests {
    static func member(_ user: String, _ metadata: String, holders: [String]) -> PresenceMember {
        PresenceMember(userID: user, metadata: ByteBuffer(string: metadata), lastSeen: 0, holders: holders.map { ByteBuffer(string: $0) })
    }

    static func listed(_ members: [PresenceMember]) -> [String] {
        JWTPresence.clients(of: members).map { "\($0.id)=\($0.userID)" }
    }

    @Test func eachJWTConnectionIsAClientAndAMemberOtherProtocolsHoldIsOneUnderItsUserID() {
        let members = [
            Self.member("ada", #"{"client":"c1"}"#, holders: [#"{"client":"c1"}"#, #"{"client":"c2","chan_info":{"tab":2}}"#]),
            Self.member("bob", #"{"name":"Bob"}"#, holders: [#"{"name":"Bob"}"#, #"{"name":"Bob"}"#]),
            // The server joined Cy without connections; a member list without holders (an older node) reads the same.
            Self.member("cy", "null", holders: []),
        ]
        #expect(Self.listed(members) == ["c1=ada", "c2=ada", "bob=bob", "cy=cy"])
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        JWTPresence.writeStats(members, to: &json)
        json.endObject()
        #expect(String(buffer: json.buffer) == #"{"num_clients":4,"num_users":3}"#)
    }

    /// Only the shape a JWT connection joins with names a client: a Pusher `user_info` with a `client` field of its own
    /// stays its user's metadata, shown as `conn_info`.
    @Test func anotherProtocolsMetadataWithAClientFieldStaysItsUsers() {
        let info = #"{"name":"Dee","client":"web"}"#
        let members = [Self.member("dee", info, holders: [info]), Self.member("eve", info, holders: [info])]
        #expect(Self.listed(members) == ["dee=dee", "eve=eve"])
        #expect(JWTPresence.connInfo(in: ByteBuffer(string: info)) == ByteBuffer(string: info))
        #expect(JWTPresence.chanInfo(in: ByteBuffer(string: info)) == nil)
    }

    /// A presence object with one key twice is parsed last-wins by clients, so a member claiming a client's id (or
    /// another user's id as a client) would hide it: each id is listed once, the first time.
    @Test func anIdIsListedOnceSoNoMemberCanHideAnother() {
        let members = [
            Self.member("ada", #"{"client":"c1"}"#, holders: [#"{"client":"c1"}"#]),
            Self.member("mallory", #"{"client":"c1"}"#, holders: [#"{"client":"c1"}"#]),
            Self.member("c1", "null", holders: ["null"]),
        ]
        #expect(Self.listed(members) == ["c1=ada"])
    }
}

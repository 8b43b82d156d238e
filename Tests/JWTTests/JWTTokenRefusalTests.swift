import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// What a refused token costs, as Centrifugo decides it: an invalid subscription token refuses only the subscribe
/// (103), an invalid connection token (or a subscription token used as one) ends the connection (3500), and a token
/// not yet valid (`nbf`) is answered like an expired one (109).
@Suite struct JWTTokenRefusalTests {
    /// `claims` (a JSON object's text) signed with the harness app's secret.
    static func signed(_ claims: String, secret: String = "secret") -> String {
        HMACToken.sign(payload: ByteBuffer(string: claims), secret: secret)
    }

    static var now: Int64 { WallClock.milliseconds() / 1000 }

    @Test(arguments: [
        ("bad signature", "bad_signature"),
        ("garbage", "token_invalid"),
        ("alg none", "token_invalid"),
        ("no channel claim", "token_invalid"),
    ])
    func anInvalidSubscriptionTokenAnswers103AndKeepsTheConnection(kind: String, event: String) async throws {
        let h = Harness()
        let tokens = [
            "bad signature": h.subToken("private-a", secret: "another-app"),
            "garbage": "not.a.jwt",
            "alg none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImNoYW5uZWwiOiJwcml2YXRlLWEifQ.",
            "no channel claim": h.token(),
        ]
        let connection = try await h.connected()
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(try #require(tokens[kind]))"}}"#)
        #expect(connection.drained().first?.errorCode == 103)
        #expect(connection.disconnectReason == nil)
        #expect(connection.channels.isEmpty)
        #expect(h.eventKinds == [event])
        await connection.send(#"{"id":3,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a"))"}}"#)
        #expect(connection.drained().first?.object("subscribe") != nil, "the connection still subscribes with a good token")
    }

    @Test func aSubscriptionTokenAtConnectClosesWith3500() async throws {
        let h = Harness()
        let connection = try h.open()
        await connection.send(#"{"id":1,"connect":{"token":"\#(h.subToken("private-a"))"}}"#)
        #expect(connection.disconnectReason == .invalidToken)
        #expect(connection.user == nil)
        #expect(h.eventKinds == ["token_invalid"])
    }

    @Test func aSubscriptionTokenAsARefreshTokenClosesWith3500() async throws {
        let h = Harness()
        let connection = try await h.connected()
        await connection.send(#"{"id":2,"refresh":{"token":"\#(h.subToken("private-a"))"}}"#)
        #expect(connection.disconnectReason == .invalidToken)
    }

    @Test func aFractionalExpIsAcceptedForConnectionAndSubscriptionTokens() async throws {
        let h = Harness()
        let connection = try h.open()
        let exp = "\(Self.now + 600).25"
        await connection.send(#"{"id":1,"connect":{"token":"\#(Self.signed(#"{"sub":"u1","exp":\#(exp)}"#))"}}"#)
        let connect = try #require(connection.drained().first?.object("connect"))
        #expect((connect.integer("ttl") ?? 0) > 590)
        let subscription = Self.signed(#"{"sub":"u1","channel":"private-a","exp":\#(exp)}"#)
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(subscription)"}}"#)
        #expect(connection.drained().first?.object("subscribe")?.bool("expires") == true)
        #expect(connection.disconnectReason == nil)
    }

    @Test func aTokenNotYetValidAnswers109AtConnectAndSubscribe() async throws {
        let h = Harness()
        let early = try h.open()
        await early.send(#"{"id":1,"connect":{"token":"\#(Self.signed(#"{"sub":"u1","nbf":\#(Self.now + 600)}"#))"}}"#)
        #expect(early.drained().first?.errorCode == 109)
        #expect(early.disconnectReason == nil && early.user == nil)

        let connection = try await h.connected()
        let subscription = Self.signed(#"{"sub":"u1","channel":"private-a","nbf":\#(Self.now + 600)}"#)
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(subscription)"}}"#)
        #expect(connection.drained().first?.errorCode == 109)
        #expect(connection.disconnectReason == nil)
        let valid = Self.signed(#"{"sub":"u1","channel":"private-a","nbf":\#(Self.now - 5)}"#)
        await connection.send(#"{"id":3,"subscribe":{"channel":"private-a","token":"\#(valid)"}}"#)
        #expect(connection.drained().first?.object("subscribe") != nil)
        #expect(h.eventKinds == ["token_expired", "token_expired"])
    }
}

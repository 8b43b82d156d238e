import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// Tokens bound what they authorized: subscription tokens expire (3006) unless refreshed, and a revoked key ends the
/// connection (3014) or the subscriptions (unsubscribe 2502) it signed.
@Suite struct JWTTokenLifetimeTests {
    /// A harness whose app verifies `secrets` (the first signs).
    static func rotated(_ h: Harness, _ secrets: [String]) {
        var app = h.app
        app.secrets = secrets
        h.bus.apps.upsert(app)
    }

    @Test func anExpiredSubscriptionTokenWithoutRefreshDisconnectsWith3006() async throws {
        let h = Harness()
        let connection = try await h.connected()
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a", expiresIn: 5))"}}"#)
        #expect(connection.drained().first?.object("subscribe")?.bool("expires") == true)
        connection.expectLasts(from: WallClock.milliseconds(), open: 3_000, endsAs: .subscriptionExpired, at: 8_000)
    }

    @Test func theConfiguredGraceHoldsAConnectionAndItsSubscriptionsPastTheirTokensExp() async throws {
        var limits = ClientLimits()
        limits.tokenExpiryGraceSeconds = 25
        let h = Harness(clientLimits: limits)
        let connection = try await h.connected(expiresIn: 5)
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a", expiresIn: 5))"}}"#)
        connection.expectLasts(from: WallClock.milliseconds(), open: 20_000, endsAs: .expired, at: 31_000)
    }

    @Test func subRefreshKeepsTheSubscriptionPastTheFirstExpiry() async throws {
        let h = Harness()
        let connection = try await h.connected()
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-a","token":"\#(h.subToken("private-a", expiresIn: 5))"}}"#)
        await connection.send(#"{"id":3,"sub_refresh":{"channel":"private-a","token":"\#(h.subToken("private-a", expiresIn: 600))"}}"#)
        #expect(connection.drained().last?.object("sub_refresh")?.bool("expires") == true)
        connection.tick(now: WallClock.milliseconds() + 60_000)
        #expect(connection.disconnectReason == nil && connection.channels == ["private-a"])
    }

    @Test func revokingTheConnectionTokensKeyDisconnectsWith3014() async throws {
        let h = Harness()
        Self.rotated(h, ["new", "secret"])
        let connection = try await h.connected()
        Self.rotated(h, ["new"])
        await connection.revoke(KeyFingerprint(secret: "new"))
        #expect(connection.disconnectReason == nil, "another key's revocation changes nothing")
        await connection.revoke(KeyFingerprint(secret: "secret"))
        #expect(connection.disconnectReason == .keyRevoked && connection.disconnectReason?.code == 3014)
        #expect(h.eventKinds.contains("token_invalid"))
    }

    @Test func revokingASubscriptionTokensKeyUnsubscribesWith2502AndKeepsTheRest() async throws {
        let h = Harness()
        Self.rotated(h, ["new", "secret"])
        let connection = try await h.connected(user: "u1")
        await connection.send(#"{"id":2,"subscribe":{"channel":"private-old","token":"\#(h.subToken("private-old", secret: "secret"))"}}"#)
        await connection.send(#"{"id":3,"subscribe":{"channel":"private-new","token":"\#(h.subToken("private-new", secret: "new"))"}}"#)
        await connection.send(#"{"id":4,"subscribe":{"channel":"news"}}"#)
        _ = connection.drained()
        // The connection token was signed with "secret" as well; refresh it with the new key first.
        await connection.send(#"{"id":5,"refresh":{"token":"\#(h.token(secret: "new"))"}}"#)
        _ = connection.drained()

        Self.rotated(h, ["new"])
        await connection.revoke(KeyFingerprint(secret: "secret"))
        #expect(connection.disconnectReason == nil)
        #expect(connection.channels == ["private-new", "news"])
        let push = try #require(connection.drained().first?.push)
        #expect(push.string("channel") == "private-old")
        #expect(push.object("unsubscribe")?.integer("code") == 2502)

        // The revoked key no longer verifies on this open connection: a subscribe with it is refused (103).
        await connection.send(#"{"id":6,"subscribe":{"channel":"private-old","token":"\#(h.subToken("private-old", secret: "secret"))"}}"#)
        #expect(connection.drained().first?.errorCode == 103)
        #expect(connection.channels == ["private-new", "news"])
    }
}

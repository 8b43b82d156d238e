import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization
import Testing

@testable import JSONAction

/// Channel grants end with their token: at `exp` unless refreshed, and when the signing key is revoked.
@Suite struct JSONActionTokenLifetimeTests {
    static func token(_ channel: String, secret: String = "secret", expiresAt: Int64?, permissions: [String] = ["subscribe", "publish"]) -> String {
        HMACToken.mint(secret: secret, subject: "u", expiresAt: expiresAt, channel: channel, permissions: permissions)
    }

    static func publish(_ h: Harness, _ channel: String, _ n: Int) async throws {
        _ = try await h.bus.publish(
            Publication(app: "1", channel: channel, data: ByteBuffer(string: #"{"n":\#(n)}"#), timestamp: 1),
            app: h.app
        )
    }

    @Test func anExpiredChannelTokenEndsTheSubscriptionWithUnauthorizedAndNothingMoreArrives() async throws {
        let h = Harness()
        let client = try h.connect()
        let exp = WallClock.milliseconds() / 1000 + 30
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(Self.token("private-a", expiresAt: exp))"}"#)
        await client.send(#"{"action":"presence:join","channel":"private-a","userId":"u","metadata":{}}"#)
        #expect(await client.drained().map(\.event) == ["subscribed", "presence.join"])
        #expect(try await h.bus.members(app: "1", channel: "private-a").count == 1)

        await client.expireTokens(now: exp * 1000 - 1)
        #expect(await client.drained().isEmpty, "not before exp")
        await client.expireTokens(now: exp * 1000)
        let ended = await client.drained()
        #expect(ended.map(\.event) == ["error", "unsubscribed"])
        #expect(ended.first?.code == "unauthorized" && ended.first?.string("channel") == "private-a")
        #expect(ended.first?.object("data")?.string("message")?.contains("expired") == true)
        #expect(h.bus.hub.count(app: "1", channel: "private-a") == 0)
        #expect(try await h.bus.members(app: "1", channel: "private-a").isEmpty)

        try await Self.publish(h, "private-a", 1)
        #expect(await client.drained().isEmpty)
        // The grant is gone with it: publishing or joining on the strength of it is refused.
        await client.send(#"{"action":"publish","channel":"private-a","data":{}}"#)
        #expect(await client.drained().map(\.code) == ["unauthorized"])
        #expect(h.security.events(SecurityEventQuery(kind: .tokenExpired)).count == 1)
    }

    @Test func expiryChecksStartWithTheFirstExpiringGrantAndStopWhenNoneIsLeft() async throws {
        let h = Harness()
        let started = Mutex(0)
        let id = try h.bus.connect(app: h.app)
        let session = Session(connectionID: id, app: h.app, encoder: JSONActionEncoder())
        let client = JSONActionConnection(session: session, clientID: "c", environment: h.environment, caller: Caller(ip: "127.0.0.1")) { _ in
            started.withLock { $0 += 1 }
        }
        // A public channel holds no token: an idle connection has no timer.
        await client.send(#"{"action":"subscribe","channel":"news"}"#)
        #expect(started.withLock { $0 } == 0 && !client.continueExpiryChecks())
        let exp = WallClock.milliseconds() / 1000 + 30
        for channel in ["private-a", "private-b"] {
            await client.send(#"{"action":"subscribe","channel":"\#(channel)","token":"\#(Self.token(channel, expiresAt: exp))"}"#)
        }
        #expect(started.withLock { $0 } == 1, "one run of checks for both grants")
        #expect(client.continueExpiryChecks())
        await client.expireTokens(now: exp * 1000)
        #expect(!client.continueExpiryChecks(), "no grant that expires is left")
        await client.send(#"{"action":"subscribe","channel":"private-c","token":"\#(Self.token("private-c", expiresAt: exp + 60))"}"#)
        #expect(started.withLock { $0 } == 2, "a later expiring grant starts them again")
    }

    @Test func subscribingAgainWithAFreshTokenBeforeExpiryKeepsTheSubscription() async throws {
        let h = Harness()
        let client = try h.connect()
        let exp = WallClock.milliseconds() / 1000 + 30
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(Self.token("private-a", expiresAt: exp))"}"#)
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(Self.token("private-a", expiresAt: exp + 600))"}"#)
        #expect(await client.drained().map(\.event) == ["subscribed", "subscribed"])
        await client.expireTokens(now: (exp + 1) * 1000)
        try await Self.publish(h, "private-a", 1)
        #expect(await client.drained().map(\.event) == ["realtime.message"])
        await client.expireTokens(now: (exp + 600) * 1000)
        #expect(await client.drained().map(\.event) == ["error", "unsubscribed"])
    }

    @Test func tokensWithoutExpiryAndPublicChannelsNeverLapse() async throws {
        let h = Harness()
        let client = try h.connect()
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(Self.token("private-a", expiresAt: nil))"}"#)
        await client.send(#"{"action":"subscribe","channel":"news"}"#)
        _ = await client.drained()
        await client.expireTokens(now: Int64.max / 2)
        try await Self.publish(h, "private-a", 1)
        try await Self.publish(h, "news", 2)
        #expect(await client.drained().map(\.event) == ["realtime.message", "realtime.message"])
    }

    @Test func revokingAKeyEndsOnlyTheGrantsItSignedAndItNoLongerVerifiesOnTheOpenConnection() async throws {
        let h = Harness()
        var rotated = h.app
        rotated.secrets = ["new", "secret"]
        h.bus.apps.upsert(rotated)
        let client = try h.connect()
        await client.send(#"{"action":"subscribe","channel":"private-old","token":"\#(Self.token("private-old", expiresAt: nil))"}"#)
        await client.send(#"{"action":"subscribe","channel":"private-new","token":"\#(Self.token("private-new", secret: "new", expiresAt: nil))"}"#)
        await client.send(#"{"action":"subscribe","channel":"news"}"#)
        #expect(await client.drained().map(\.event) == ["subscribed", "subscribed", "subscribed"])

        rotated.secrets = ["new"]
        h.bus.apps.upsert(rotated)
        await client.revoke(KeyFingerprint(secret: "secret"))
        let ended = await client.drained()
        #expect(ended.map(\.event) == ["error", "unsubscribed"])
        #expect(ended.allSatisfy { $0.string("channel") == "private-old" })
        #expect(ended.first?.code == "unauthorized")

        for (channel, n) in [("private-old", 1), ("private-new", 2), ("news", 3)] { try await Self.publish(h, channel, n) }
        let delivered = await client.drained()
        #expect(delivered.map { $0.string("channel") } == ["private-new", "news"])
        // The old token is refused on the connection that still holds the app as it was when it opened.
        await client.send(#"{"action":"subscribe","channel":"private-old","token":"\#(Self.token("private-old", expiresAt: nil))"}"#)
        #expect(await client.drained().map(\.code) == ["unauthorized"])
    }

    @Test func aChannelTokenWithoutSubscribePermissionIsRefused() async throws {
        let h = Harness()
        let client = try h.connect()
        let token = Self.token("private-a", expiresAt: nil, permissions: ["publish"])
        await client.send(#"{"action":"subscribe","channel":"private-a","token":"\#(token)"}"#)
        #expect(await client.drained().map(\.code) == ["forbidden"])
        #expect(h.bus.hub.count(app: "1", channel: "private-a") == 0)
    }
}

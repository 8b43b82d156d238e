import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// The server API's `refresh`, as `cent` sends it: a backend moves a user's connections' expiry, lifts it, or ends them.
@Suite struct JWTServerRefreshTests {
    func refresh(_ h: Harness, _ body: String) async throws {
        _ = try await JWTServerAPI(environment: h.environment, registry: h.registry).run(
            "refresh",
            body: try JSONObject(parsing: ByteBuffer(string: body)),
            app: h.app
        )
    }

    @Test func expireAtCarriesTheConnectionPastItsTokensExp() async throws {
        let h = Harness()
        let connection = try await h.connected(expiresIn: 5)
        let now = WallClock.milliseconds()
        try await self.refresh(h, #"{"user":"u1","expire_at":\#(now / 1000 + 600)}"#)
        connection.expectLasts(from: now, open: 60_000, endsAs: .expired, at: 610_000)
    }

    @Test func withoutExpireAtTheConnectionNoLongerExpires() async throws {
        let h = Harness()
        let connection = try await h.connected(expiresIn: 5)
        try await self.refresh(h, #"{"user":"u1"}"#)
        connection.tick(now: WallClock.milliseconds() + 3_600_000)
        #expect(connection.disconnectReason == nil)
    }

    @Test func expiredOrAPastExpireAtEndsTheConnectionAs3005AtOnce() async throws {
        let h = Harness()
        let flagged = try await h.connected()
        let past = try await h.connected(user: "u2")
        try await self.refresh(h, #"{"user":"u1","expired":true}"#)
        try await self.refresh(h, #"{"user":"u2","expire_at":1}"#)
        #expect(flagged.disconnectReason == .expired && past.disconnectReason == .expired)
    }

    @Test func onlyTheNamedClientOfTheUserIsRefreshed() async throws {
        let h = Harness()
        let kept = try await h.connected()
        let ended = try await h.connected()
        try await self.refresh(h, #"{"user":"u1","client":"\#(ended.clientID)","expired":true}"#)
        #expect(kept.disconnectReason == nil && ended.disconnectReason == .expired)
    }

    @Test func aRefreshWithoutAUserIsABadRequest() async throws {
        let h = Harness()
        await #expect(throws: JWTServerAPI.Failure.self) { try await self.refresh(h, #"{"expired":true}"#) }
    }
}

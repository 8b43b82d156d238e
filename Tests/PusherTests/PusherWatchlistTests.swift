import NIOCore
import Pusher
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

/// Watchlist events: a signed-in user's watchers hear when its first connection signs in and when its last one closes.
@Suite struct PusherWatchlistTests {
    let harness = PusherHarness()

    /// A connection of `harness` signed in as `user`, with `watchlist` in its signed `user_data` when given.
    func signedIn(_ user: String, watching watchlist: [String]? = nil, on harness: PusherHarness? = nil) async throws -> PusherConnection {
        let harness = harness ?? self.harness
        let connection = try harness.connect()
        var userData = #"{"id":"\#(user)""#
        if let watchlist { userData += #","watchlist":[\#(watchlist.map { "\"\($0)\"" }.joined(separator: ","))]"# }
        await harness.signIn(connection, userData: userData + "}")
        return connection
    }

    /// The watchlist events among `frames`, as (name, user ids).
    func watchlistEvents(_ frames: [JSONObject]) -> [[String]] {
        frames.filter { $0.string("event") == "pusher_internal:watchlist_events" }.flatMap { frame -> [[String]] in
            guard let data = frame.dataObject, let events = data.raw("events"), let elements = JSONArrayElements.split(events) else { return [] }
            return elements.compactMap { element in
                guard let event = try? JSONObject(parsing: element), let name = event.string("name") else { return nil }
                return [name] + (event.strings("user_ids") ?? [])
            }
        }
    }

    @Test func signingInReportsTheWatchedUsersAlreadyOnlineInOneEvent() async throws {
        _ = try await self.signedIn("bob")
        _ = try await self.signedIn("carol")
        let watcher = try await self.signedIn("ann", watching: ["bob", "carol", "dave"])
        let frames = await self.harness.frames(watcher)
        #expect(frames.names == ["pusher:signin_success", "pusher_internal:watchlist_events"])
        #expect(frames[1].has("channel") == false)
        #expect(self.watchlistEvents(frames) == [["online", "bob", "carol"]])
    }

    @Test func nobodyOnlineMeansNoEventAtSignIn() async throws {
        let watcher = try await self.signedIn("ann", watching: ["bob"])
        #expect(await self.harness.frames(watcher).names == ["pusher:signin_success"])
    }

    @Test func aWatchedUserIsOnlineFromItsFirstSignedInConnectionUntilItsLastCloses() async throws {
        let watcher = try await self.signedIn("ann", watching: ["bob"])
        _ = await self.harness.frames(watcher)
        let first = try await self.signedIn("bob")
        #expect(self.watchlistEvents(await self.harness.frames(watcher)) == [["online", "bob"]])
        let second = try await self.signedIn("bob")
        #expect(await self.harness.frames(watcher).isEmpty)
        await first.closed()
        #expect(await self.harness.frames(watcher).isEmpty)
        await second.closed()
        #expect(self.watchlistEvents(await self.harness.frames(watcher)) == [["offline", "bob"]])
    }

    @Test func anUnwatchedUserComingOnlineIsNotAnnounced() async throws {
        let watcher = try await self.signedIn("ann", watching: ["bob"])
        _ = await self.harness.frames(watcher)
        _ = try await self.signedIn("carol")
        #expect(await self.harness.frames(watcher).isEmpty)
    }

    @Test func aWatchlistIsCutAtAHundredDistinctUsers() async throws {
        let users = (0..<150).map { "u\($0)" }
        let watcher = try await self.signedIn("ann", watching: ["u0", "u0"] + users)
        _ = await self.harness.frames(watcher)
        let watched = self.harness.bus.channels(app: "1").keys.filter { $0.hasPrefix(PusherChannel.onlinePrefix) }
        #expect(watched.count == PusherConnection.maxWatchlist)
        _ = try await self.signedIn("u99")
        _ = try await self.signedIn("u100")
        #expect(self.watchlistEvents(await self.harness.frames(watcher)) == [["online", "u99"]])
    }

    @Test func watchingNeedsNoSubscriptionSlotsOfTheClients() async throws {
        let harness = PusherHarness { $0.plan.maxSubscriptionsPerConnection = 2 }
        let connection = try await self.signedIn("ann", watching: ["bob", "carol", "dave"], on: harness)
        await harness.subscribe(connection, "news", sign: false)
        #expect(await harness.frames(connection).names == ["pusher:signin_success", "pusher_internal:subscription_succeeded"])
    }

    @Test func closingGivesBackTheWatchedChannelsAndTheOnlineStatus() async throws {
        let watcher = try await self.signedIn("ann", watching: ["bob"])
        await watcher.closed()
        let left = self.harness.bus.channels(app: "1").keys.filter { $0.hasPrefix(PusherChannel.onlinePrefix) }
        #expect(left.isEmpty)
        #expect(try await self.harness.bus.members(app: "1", channel: PusherChannel.onlinePrefix + "ann").isEmpty)
    }
}

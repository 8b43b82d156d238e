import NIOCore
import Testing

@testable import SwitchboardCore

/// Joining and leaving change a channel's sets in place. A copy of a set per change makes filling a channel of n
/// cost n² (each test below took a minute or more that way), a cost any client holding the public key could drive.
/// The bounds are a hundred times what the linear code takes in a debug build.
@Suite struct JoinCostTests {
    let clock = ContinuousClock()
    let count = 40_000

    @Test func fillingAndEmptyingABigChannelDoesNotCopyItsSubscribersPerChange() {
        let hub = Hub()
        let subscribers = (0..<self.count).map { TestSubscriber(UInt64($0)) }
        let elapsed = self.clock.measure {
            for subscriber in subscribers { hub.add(subscriber, app: "1", channel: "crowd") }
            #expect(hub.count(app: "1", channel: "crowd") == self.count)
            for subscriber in subscribers { hub.remove(subscriber.connectionID, app: "1", channel: "crowd") }
        }
        #expect(hub.count(app: "1", channel: "crowd") == 0)
        #expect(elapsed < .seconds(15), "\(self.count) joins and leaves took \(elapsed)")
    }

    @Test func aBigPresenceChannelDoesNotCopyItsMembersPerJoin() {
        let store = MemoryPresenceStore()
        let meta = ByteBuffer(string: "{}")
        let elapsed = self.clock.measure {
            for id in 0..<self.count {
                let holder = PresenceHolder.connection(ConnectionID(UInt64(id)))
                #expect(store.join(app: "1", channel: "p", userID: "u\(id)", metadata: meta, holder: holder, now: 1)?.kind == .join)
            }
            #expect(store.members(app: "1", channel: "p").count == self.count)
            for id in 0..<self.count {
                let holder = PresenceHolder.connection(ConnectionID(UInt64(id)))
                #expect(store.leave(app: "1", channel: "p", userID: "u\(id)", holder: holder, now: 2)?.kind == .leave)
            }
        }
        #expect(store.members(app: "1", channel: "p").isEmpty)
        #expect(elapsed < .seconds(15), "\(self.count) members took \(elapsed)")
    }

    @Test func aUserOnManyConnectionsDoesNotCopyItsHoldersPerJoin() {
        let store = MemoryPresenceStore()
        let meta = ByteBuffer(string: "{}")
        // Holders copy as plain memory, so it takes more of them for a copy per join to show.
        let count = 100_000
        let elapsed = self.clock.measure {
            for id in 0..<count {
                let holder = PresenceHolder.connection(ConnectionID(UInt64(id)))
                _ = store.join(app: "1", channel: "p", userID: "tabs", metadata: meta, holder: holder, now: 1)
            }
            for id in 1..<count {
                #expect(
                    store.leave(app: "1", channel: "p", userID: "tabs", holder: .connection(ConnectionID(UInt64(id))), now: 2)?.kind
                        == .connectionLeave
                )
            }
        }
        #expect(store.members(app: "1", channel: "p").map(\.userID) == ["tabs"])
        #expect(store.leave(app: "1", channel: "p", userID: "tabs", holder: .connection(ConnectionID(0)), now: 3)?.kind == .leave)
        #expect(elapsed < .seconds(15), "\(count) holders took \(elapsed)")
    }

    @Test func anAppWithManyChannelsDoesNotCopyItsChannelCountsPerSubscription() throws {
        let app = testApp()
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let elapsed = try self.clock.measure {
            for id in 0..<self.count { try bus.holdChannel(app: app, channel: "room-\(id)") }
            for id in 0..<self.count { bus.releaseChannel(app: app.id, channel: "room-\(id)") }
        }
        #expect(elapsed < .seconds(15), "\(self.count) channels took \(elapsed)")
    }

    @Test func joiningABigPresenceChannelDoesNotReadItsMembersPerJoin() async throws {
        var app = testApp()
        app.maxPresenceMembers = 100_000
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]))
        let meta = ByteBuffer(string: "{}")
        let count = 10_000
        let start = self.clock.now
        for id in 0..<count {
            let holder = PresenceHolder.connection(ConnectionID(UInt64(id)))
            _ = try await bus.presenceJoin(app: app, channel: "presence-crowd", userID: "u\(id)", metadata: meta, holder: holder)
        }
        let elapsed = self.clock.now - start
        #expect(try await bus.members(app: app.id, channel: "presence-crowd").count == count)
        #expect(elapsed < .seconds(15), "\(count) presence joins took \(elapsed)")
    }
}

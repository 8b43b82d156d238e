import Logging
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization
import Testing

@testable import Pusher

/// What the bus tells its observers, and how the Pusher adapter turns it into webhook events.
@Suite struct PusherWebhooksTests {
    final class Recorder: ChannelObserver {
        let seen = Mutex<[String]>([])
        func channelOccupied(app: String, channel: String) { self.seen.withLock { $0.append("occupied \(channel)") } }
        func channelVacated(app: String, channel: String) { self.seen.withLock { $0.append("vacated \(channel)") } }
        func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {
            self.seen.withLock { $0.append("count \(channel) \(count)") }
        }
        func presenceChanged(_ change: PresenceChange) {
            self.seen.withLock { $0.append("\(change.kind.rawValue) \(change.channel) \(change.member.userID)") }
        }
        func published(_ publication: Publication) { self.seen.withLock { $0.append("published \(publication.channel)") } }
    }

    @Test func theBusTellsObserversWhatHappensToChannels() async throws {
        let harness = PusherHarness()
        let recorder = Recorder()
        harness.bus.observers.register(recorder, name: "recorder")
        let first = try harness.connect()
        let second = try harness.connect()
        await harness.subscribe(first, "presence-room", channelData: #"{"user_id":"a"}"#)
        await harness.subscribe(second, "presence-room", channelData: #"{"user_id":"b"}"#)
        _ = try await harness.bus.publish(
            Publication(app: "1", channel: "presence-room", data: ByteBuffer(string: "1"), timestamp: 1),
            app: harness.app
        )
        await first.closed()
        await second.closed()
        #expect(
            recorder.seen.withLock { $0 } == [
                "join presence-room a", "occupied presence-room", "count presence-room 1", "join presence-room b", "count presence-room 2",
                "published presence-room", "count presence-room 1", "leave presence-room a", "vacated presence-room", "leave presence-room b",
            ]
        )
        // Registering under the same name replaces; unregistering stops the calls.
        harness.bus.observers.register(recorder, name: "recorder")
        harness.bus.observers.unregister(name: "recorder")
        _ = try await harness.bus.publish(Publication(app: "1", channel: "x", data: ByteBuffer(string: "1"), timestamp: 1), app: harness.app)
        #expect(recorder.seen.withLock { $0.count } == 10)
    }

    @Test func onlyTheEventsAnAppAsksForAreQueued() {
        var app = App(id: "1", key: "k", secrets: ["s"])
        let webhooks = PusherWebhooks(apps: AppRegistry(apps: [app]), logger: Logger(label: "test"))
        #expect(!webhooks.enqueue(.channelOccupied("a"), app: app))
        app.webhooks = WebhookSettings(url: "http://127.0.0.1:9/hook", events: ["channel_occupied"])
        #expect(webhooks.enqueue(.channelOccupied("a"), app: app))
        #expect(!webhooks.enqueue(.channelVacated("a"), app: app))
        #expect(WebhookSettings(url: "http://x").wants("client_event"))
        #expect(!WebhookSettings(url: "http://x").wants("subscription_count"))
    }

    @Test func occupancyEventsOfChannelsOtherNodesStillHoldAreDropped() async {
        let app = App(id: "1", key: "k", secrets: ["s"])
        let webhooks = PusherWebhooks(
            apps: AppRegistry(apps: [app]),
            otherNodes: { _, channel in channel == "busy" ? 2 : 0 },
            logger: Logger(label: "test")
        )
        let batch: [PusherWebhookEvent] = [
            .channelOccupied("busy"), .channelVacated("busy"), .memberAdded("busy", userID: "u"), .channelOccupied("quiet"), .channelVacated("quiet"),
        ]
        let kept = await webhooks.clusterWide(batch, appID: "1").map { "\($0.name) \($0.channel)" }
        #expect(kept == ["member_added busy", "channel_occupied quiet", "channel_vacated quiet"])
        let single = PusherWebhooks(apps: AppRegistry(apps: [app]), logger: Logger(label: "test"))
        #expect(await single.clusterWide(batch, appID: "1") == batch)
    }

    @Test func aFullBufferDropsAndCountsInsteadOfGrowing() {
        var app = App(id: "1", key: "k", secrets: ["s"])
        app.webhooks = WebhookSettings(url: "http://127.0.0.1:9/hook")
        var configuration = PusherWebhooks.Configuration()
        configuration.maxBuffered = 3
        let webhooks = PusherWebhooks(apps: AppRegistry(apps: [app]), configuration: configuration, logger: Logger(label: "test"))
        let queued = (0..<5).map { webhooks.enqueue(.channelOccupied("c\($0)"), app: app) }
        #expect(queued == [true, true, true, false, false])
        #expect(webhooks.counters.dropped == 2)
    }

    @Test func oneAppsFullBufferDoesNotTakeTheOtherAppsPlace() {
        var dead = App(id: "1", key: "k1", secrets: ["s"])
        dead.webhooks = WebhookSettings(url: "http://127.0.0.1:9/hook")
        var healthy = App(id: "2", key: "k2", secrets: ["s"])
        healthy.webhooks = WebhookSettings(url: "http://127.0.0.1:9/hook")
        var configuration = PusherWebhooks.Configuration()
        configuration.maxBufferedPerApp = 2
        let webhooks = PusherWebhooks(apps: AppRegistry(apps: [dead, healthy]), configuration: configuration, logger: Logger(label: "test"))
        let flood = (0..<5).map { webhooks.enqueue(.channelOccupied("c\($0)"), app: dead) }
        #expect(flood == [true, true, false, false, false])
        #expect(webhooks.enqueue(.channelOccupied("other"), app: healthy))
        #expect(webhooks.counters.dropped == 3)
    }

    @Test func aFailedBatchIsRetriedWithBackoffForFiveMinutesNotAFixedNumberOfTimes() {
        let waits = PusherWebhooks.retryWaits(PusherWebhooks.Configuration())
        #expect(waits.prefix(7) == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30)])
        let total = waits.reduce(Duration.zero, +)
        #expect(total <= .seconds(300) && total > .seconds(270), "retried for \(total)")
        var short = PusherWebhooks.Configuration()
        short.initialBackoff = .milliseconds(100)
        short.retryFor = .milliseconds(1200)
        #expect(PusherWebhooks.retryWaits(short) == [.milliseconds(100), .milliseconds(200), .milliseconds(400)])
    }

    @Test func aMemberWhoComesBackWithinTheDelayIsNeitherRemovedNorAddedAgain() async throws {
        var app = App(id: "1", key: "k", secrets: ["s"])
        app.webhooks = WebhookSettings(url: "http://127.0.0.1:9/hook")
        var configuration = PusherWebhooks.Configuration()
        configuration.memberRemovedDelay = .milliseconds(200)
        let webhooks = PusherWebhooks(apps: AppRegistry(apps: [app]), configuration: configuration, logger: Logger(label: "test"))
        func change(_ kind: PresenceChange.Kind, _ user: String) -> PresenceChange {
            PresenceChange(
                app: "1",
                channel: "presence-room",
                kind: kind,
                member: PresenceMember(userID: user, metadata: ByteBuffer(), lastSeen: 0),
                timestamp: 0
            )
        }
        webhooks.presenceChanged(change(.leave, "reload"))
        webhooks.presenceChanged(change(.join, "reload"))
        webhooks.presenceChanged(change(.leave, "gone"))
        webhooks.releaseLeavers()
        #expect(webhooks.takeBatch(appID: "1") == nil)  // the reload made nothing; the removal is still held
        try await Task.sleep(for: .milliseconds(250))
        webhooks.releaseLeavers()
        #expect(webhooks.takeBatch(appID: "1") == [.memberRemoved("presence-room", userID: "gone")])
    }

    @Test func batchesHaveTheShapePusherSends() throws {
        let body = PusherWebhooks.body(
            [
                .channelOccupied("a"), .memberAdded("presence-b", userID: "u"), .subscriptionCount("c", count: 2),
                .clientEvent("private-d", event: "client-x", data: #"{"k":1}"#, socketID: "1.2", userID: nil),
            ],
            timeMilliseconds: 1234
        )
        #expect(
            String(buffer: body)
                == #"{"time_ms":1234,"events":[{"name":"channel_occupied","channel":"a"},{"name":"member_added","channel":"presence-b","user_id":"u"},"#
                + #"{"name":"subscription_count","channel":"c","subscription_count":2},"#
                + #"{"name":"client_event","channel":"private-d","event":"client-x","data":"{\"k\":1}","socket_id":"1.2"}]}"#
        )
    }

    @Test func theEventCacheKeepsTheLastEventForItsTTL() {
        let cache = PusherEventCache(ttlMilliseconds: 1000, capacity: 2)
        func event(_ channel: String, _ data: String, at time: Int64, name: String = "e") -> Publication {
            Publication(app: "1", channel: channel, event: name, data: ByteBuffer(string: data), timestamp: time)
        }
        cache.store(event("news", "1", at: 0))
        cache.store(event("cache-a", "1", at: 0))
        cache.store(event("cache-a", "2", at: 10))
        cache.store(event("cache-a", "3", at: 20, name: "client-x"))
        #expect(cache.last(app: "1", channel: "news", now: 10) == nil)
        #expect(cache.last(app: "1", channel: "cache-a", now: 500).map { String(buffer: $0.data) } == "2")
        #expect(cache.last(app: "1", channel: "cache-a", now: 1011) == nil)
        for (index, channel) in ["private-cache-b", "presence-cache-c", "private-encrypted-cache-d"].enumerated() {
            cache.store(event(channel, "\(index)", at: 2000 + Int64(index)))
        }
        #expect(cache.last(app: "1", channel: "private-cache-b", now: 2005) == nil)  // the oldest was dropped at capacity
        #expect(cache.last(app: "1", channel: "private-encrypted-cache-d", now: 2005) != nil)
    }

    @Test func theRegistryFindsConnectionsBySocketAndUser() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        #expect(harness.context.registry.connection(socketID: connection.socketID) === connection)
        harness.context.registry.signedIn(connection, userID: "u")
        #expect(harness.context.registry.connections(app: "1", userID: "u").count == 1)
        #expect(harness.context.registry.connections(app: "2", userID: "u").isEmpty)
        harness.context.registry.remove(connection)
        #expect(harness.context.registry.connection(socketID: connection.socketID) == nil)
        #expect(harness.context.registry.count == 0)
    }
}

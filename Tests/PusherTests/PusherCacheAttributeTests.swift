import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import Pusher

/// `GET /apps/{id}/channels/{name}?info=cache`: the reference's `"cache": {"data": …, "ttl": …}`, or `null`.
@Suite struct PusherCacheAttributeTests {
    func written(_ attribute: PusherCacheAttribute?) -> String {
        var json = JSONWriter()
        json.beginObject()
        PusherCacheAttribute.write(attribute, to: &json)
        json.endObject()
        return String(buffer: json.buffer)
    }

    func event(_ channel: String, data: String, at time: Int64, name: String = "state") -> Publication {
        Publication(app: "1", channel: channel, event: name, data: ByteBuffer(string: data), timestamp: time)
    }

    @Test func theCacheAttributeIsTheEventsDataStringAndTheSecondsItStaysCached() {
        let attribute = PusherCacheAttribute(self.event("cache-a", data: #"{"v":1}"#, at: 1_000), ttlMilliseconds: 1_800_000, now: 61_000)
        #expect(attribute == PusherCacheAttribute(data: #"{"v":1}"#, ttl: 1_740))
        #expect(self.written(attribute) == #"{"cache":{"data":"{\"v\":1}","ttl":1740}}"#)
    }

    @Test func aDataStringThatIsNotJSONComesBackAsThatString() {
        let attribute = PusherCacheAttribute(self.event("cache-a", data: #""plain text""#, at: 0), ttlMilliseconds: 60_000, now: 0)
        #expect(attribute?.data == "plain text")
    }

    @Test func theTTLRoundsUpSoACachedEventNeverReportsZero() {
        #expect(PusherCacheAttribute(self.event("cache-a", data: "1", at: 0), ttlMilliseconds: 60_000, now: 59_999)?.ttl == 1)
        #expect(PusherCacheAttribute(self.event("cache-a", data: "1", at: 0), ttlMilliseconds: 60_000, now: 60_000) == nil)
    }

    @Test func nothingCachedIsWrittenAsNull() {
        #expect(PusherCacheAttribute(nil, ttlMilliseconds: 60_000, now: 0) == nil)
        #expect(self.written(nil) == #"{"cache":null}"#)
    }

    @Test(arguments: ["cache-a", "private-cache-a", "presence-cache-a", "private-encrypted-cache-a"])
    func everyCacheChannelKindHasItsLastServerEventAndNoClientEvent(channel: String) async throws {
        let harness = PusherHarness()
        let now = WallClock.milliseconds()
        #expect(await harness.context.cachedEvent(app: harness.app, channel: channel, now: now) == nil)
        _ = try await harness.bus.publish(self.event(channel, data: #"{"n":1}"#, at: now), app: harness.app)
        _ = try await harness.bus.publish(self.event(channel, data: #"{"n":2}"#, at: now, name: "client-x"), app: harness.app)
        let cached = await harness.context.cachedEvent(app: harness.app, channel: channel, now: now)
        #expect(cached.map { String(buffer: $0.data) } == #"{"n":1}"#)
    }

    @Test func anotherNodesEventIsFoundInTheChannelsHistoryWhileWithinTheTTL() async throws {
        let harness = PusherHarness()
        let now = WallClock.milliseconds()
        // Kept through the engine alone, as a publish from another node arrives: this node's cache never saw it.
        _ = try await harness.bus.engine.publish(self.event("cache-b", data: "7", at: now), history: HistoryPolicy(size: 10, ttlMilliseconds: 60_000))
        #expect(harness.context.cache.last(app: "1", channel: "cache-b", now: now) == nil)
        #expect(await harness.context.cachedEvent(app: harness.app, channel: "cache-b", now: now).map { String(buffer: $0.data) } == "7")
        let later = now + harness.context.cache.ttlMilliseconds + 1
        #expect(await harness.context.cachedEvent(app: harness.app, channel: "cache-b", now: later) == nil)
    }
}

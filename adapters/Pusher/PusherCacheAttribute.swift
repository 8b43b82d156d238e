import SwitchboardAdapterKit
import SwitchboardCore

/// The `cache` attribute of `GET /apps/{id}/channels/{name}?info=cache`: the cached event's data, as the `data` string
/// a Pusher client gets, and the seconds it stays cached. The HTTP API reference answers `"cache": null` when nothing is.
struct PusherCacheAttribute: Equatable {
    /// The event's `data` string.
    var data: String
    /// Seconds until the event expires, rounded up so that a cached event never reports 0.
    var ttl: Int64

    /// An attribute with these values.
    init(data: String, ttl: Int64) {
        self.data = data
        self.ttl = ttl
    }

    /// The attribute of `event`, cached for `ttlMilliseconds`, at `now`; nil when there is no event or it expired.
    init?(_ event: Publication?, ttlMilliseconds: Int64, now: Int64) {
        guard let event else { return nil }
        let remaining = ttlMilliseconds - (now - event.timestamp)
        guard remaining > 0 else { return nil }
        self.data = PusherData.wireString(event.data)
        self.ttl = (remaining + 999) / 1000
    }

    /// Writes `attribute` as the `cache` member: an object with `data` and `ttl`, or `null`.
    static func write(_ attribute: PusherCacheAttribute?, to json: inout JSONWriter) {
        json.key("cache")
        guard let attribute else { return json.null() }
        json.beginObject()
        json.member("data", attribute.data)
        json.member("ttl", attribute.ttl)
        json.endObject()
    }
}

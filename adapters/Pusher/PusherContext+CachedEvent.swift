import SwitchboardCore

extension PusherContext {
    /// A cache channel's cached event as a new subscriber or `info=cache` sees it: this node's cache, else the channel's
    /// newest kept message while it is within the ttl (the local cache only sees this node's publishes; history is shared).
    func cachedEvent(app: App, channel: String, now: Int64) async -> Publication? {
        if let cached = self.cache.last(app: app.id, channel: channel, now: now) { return cached }
        guard let newest = try? await self.bus.history(app: app, channel: channel, after: nil, limit: 1).publications.last,
            !(newest.event ?? "").hasPrefix("client-"), now - newest.timestamp <= self.cache.ttlMilliseconds
        else { return nil }
        return newest
    }
}

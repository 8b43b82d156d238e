public import SwitchboardCore
import Synchronization

/// The last event of each cache channel (`cache-`, `private-cache-`, `private-encrypted-cache-`,
/// `presence-cache-`), kept for `ttl` so that new subscribers get it first.
///
/// Fed by the bus's publish hook, so events from every protocol are cached; client events are not
/// (a client must not decide the state every later subscriber starts from).
public final class PusherEventCache: Sendable {
    struct Key: Hashable {
        var app: String
        var channel: String
    }

    /// How long an event stays cached, in milliseconds (Pusher keeps 30 minutes).
    public let ttlMilliseconds: Int64
    /// The most channels cached at once; expired entries are dropped first, then the oldest.
    public let capacity: Int
    private let entries = Mutex<[Key: Publication]>([:])

    /// Creates an empty cache.
    public init(ttlMilliseconds: Int64 = 30 * 60 * 1000, capacity: Int = 100_000) {
        self.ttlMilliseconds = ttlMilliseconds
        self.capacity = max(1, capacity)
    }

    /// Keeps `publication` when it is an event on a cache channel.
    public func store(_ publication: Publication) {
        guard PusherChannel.isCache(publication.channel), !(publication.event ?? "").hasPrefix("client-") else { return }
        let key = Key(app: publication.app, channel: publication.channel)
        self.entries.withLock { entries in
            entries[key] = publication
            guard entries.count > self.capacity else { return }
            let now = publication.timestamp
            entries = entries.filter { now - $0.value.timestamp <= self.ttlMilliseconds }
            while entries.count > self.capacity, let oldest = entries.min(by: { $0.value.timestamp < $1.value.timestamp }) {
                entries[oldest.key] = nil
            }
        }
    }

    /// The cached event of a channel, if one was published within the ttl.
    public func last(app: String, channel: String, now: Int64) -> Publication? {
        let key = Key(app: app, channel: channel)
        return self.entries.withLock { entries in
            guard let publication = entries[key] else { return nil }
            guard now - publication.timestamp <= self.ttlMilliseconds else {
                entries[key] = nil
                return nil
            }
            return publication
        }
    }
}

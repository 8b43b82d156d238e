import NIOCore
import Synchronization

/// The registry of this node's local subscriptions, sharded by channel hash with a lock per shard.
///
/// A broadcast takes a snapshot of the channel's subscribers under the shard lock, then encodes the
/// message once per wire format and queues the same bytes on every subscriber outside the lock.
public final class Hub: Sendable {
    struct ChannelKey: Hashable, Sendable {
        var app: String
        var channel: String
    }

    struct Subscribers {
        var byConnection: [ConnectionID: any Subscriber] = [:]
        var snapshot: ContiguousArray<any Subscriber>?

        mutating func currentSnapshot() -> ContiguousArray<any Subscriber> {
            if let snapshot { return snapshot }
            let built = ContiguousArray(self.byConnection.values)
            self.snapshot = built
            return built
        }
    }

    final class Shard: Sendable {
        let channels = Mutex<[ChannelKey: Subscribers]>([:])
    }

    private let shards: [Shard]

    /// Creates a hub with `shardCount` independently locked shards.
    public init(shardCount: Int = 64) {
        self.shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(for key: ChannelKey) -> Shard {
        var hasher = Hasher()
        hasher.combine(key)
        let index = Int(UInt(bitPattern: hasher.finalize()) % UInt(self.shards.count))
        return self.shards[index]
    }

    /// Adds a subscriber; returns true when it is the channel's first local subscriber.
    @discardableResult
    public func add(_ subscriber: any Subscriber, app: String, channel: String) -> (first: Bool, added: Bool) {
        let key = ChannelKey(app: app, channel: channel)
        return self.shard(for: key).channels.withLock { channels in
            var entry = channels[key] ?? Subscribers()
            let first = entry.byConnection.isEmpty
            let added = entry.byConnection.updateValue(subscriber, forKey: subscriber.connectionID) == nil
            entry.snapshot = nil
            channels[key] = entry
            return (first, added)
        }
    }

    /// Removes a subscriber; returns true when the channel has no local subscriber left.
    @discardableResult
    public func remove(_ connection: ConnectionID, app: String, channel: String) -> (last: Bool, removed: Bool) {
        let key = ChannelKey(app: app, channel: channel)
        return self.shard(for: key).channels.withLock { channels in
            guard var entry = channels[key], entry.byConnection.removeValue(forKey: connection) != nil else {
                return (false, false)
            }
            if entry.byConnection.isEmpty {
                channels[key] = nil
                return (true, true)
            }
            entry.snapshot = nil
            channels[key] = entry
            return (false, true)
        }
    }

    /// The number of local subscribers of a channel.
    public func count(app: String, channel: String) -> Int {
        let key = ChannelKey(app: app, channel: channel)
        return self.shard(for: key).channels.withLock { $0[key]?.byConnection.count ?? 0 }
    }

    /// The local subscribers of a channel, in no particular order (a snapshot).
    public func subscribers(app: String, channel: String) -> [any Subscriber] {
        let key = ChannelKey(app: app, channel: channel)
        return self.shard(for: key).channels.withLock { channels in
            guard var entry = channels[key] else { return [] }
            let snapshot = entry.currentSnapshot()
            channels[key] = entry
            return Array(snapshot)
        }
    }

    /// The channels of `app` that have local subscribers, with their subscriber counts.
    public func channels(app: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for shard in self.shards {
            shard.channels.withLock { channels in
                for (key, entry) in channels where key.app == app {
                    result[key.channel] = entry.byConnection.count
                }
            }
        }
        return result
    }

    /// Every app's channels with local subscribers, with their subscriber counts.
    public func occupancy() -> [String: [String: Int]] {
        var result: [String: [String: Int]] = [:]
        for shard in self.shards {
            shard.channels.withLock { channels in
                for (key, entry) in channels where !entry.byConnection.isEmpty {
                    result[key.app, default: [:]][key.channel] = entry.byConnection.count
                }
            }
        }
        return result
    }

    /// The channels of `app` with local subscribers, counted per wire protocol (`pusher`, `jsonaction`, `jwt`, `sse`).
    ///
    /// For the admin API: it walks every subscriber, so it stays off the publish path.
    public func protocolCounts(app: String) -> [String: [String: Int]] {
        var result: [String: [String: Int]] = [:]
        for shard in self.shards {
            shard.channels.withLock { channels in
                for (key, entry) in channels where key.app == app {
                    var counts: [String: Int] = [:]
                    for subscriber in entry.byConnection.values { counts[subscriber.encoder.protocolName, default: 0] += 1 }
                    result[key.channel] = counts
                }
            }
        }
        return result
    }

    /// Queues `message` on every local subscriber of its channel except its sender.
    ///
    /// Returns the number of subscribers the message was handed to.
    @discardableResult
    public func broadcast(_ message: BusMessage) -> Int {
        let key = ChannelKey(app: message.app, channel: message.channel)
        guard let subscribers = self.shard(for: key).channels.withLock({ $0[key]?.currentSnapshot() }) else { return 0 }
        var cache = FrameCache()
        let sender = message.sender
        var delivered = 0
        for subscriber in subscribers {
            if let sender, subscriber.connectionID == sender { continue }
            guard let frame = cache.prepared(for: message, subscriber: subscriber) else { continue }
            subscriber.deliver(frame, of: message)
            delivered += 1
        }
        return delivered
    }
}

/// The frames of one broadcast, one per encoder type, so each wire format is encoded (and framed for its transport)
/// once; and their compressed forms, one per encoder type and compressor, so each is compressed once.
struct FrameCache {
    private var entries: [(encoder: ObjectIdentifier, frame: PreparedFrame?)] = []
    private var compressedEntries: [(encoder: ObjectIdentifier, compressor: ObjectIdentifier, frame: PreparedFrame?)] = []

    /// `message` as `subscriber` takes it: its encoder's frame, compressed when it compresses and that pays.
    mutating func prepared(for message: BusMessage, subscriber: any Subscriber) -> PreparedFrame? {
        let encoder = subscriber.encoder
        let encoderID = ObjectIdentifier(type(of: encoder))
        var plain: PreparedFrame?
        if let entry = self.entries.first(where: { $0.encoder == encoderID }) {
            plain = entry.frame
        } else {
            plain = encoder.frame(for: message).map { PreparedFrame(bytes: $0, wire: encoder.wire($0, compressed: false)) }
            self.entries.append((encoderID, plain))
        }
        guard let plain, let compressor = subscriber.compressor else { return plain }
        let compressorID = ObjectIdentifier(compressor)
        if let entry = self.compressedEntries.first(where: { $0.encoder == encoderID && $0.compressor == compressorID }) {
            return entry.frame ?? plain
        }
        let compressed = compressor.compress(plain.bytes).map {
            PreparedFrame(bytes: $0, compressed: true, wire: encoder.wire($0, compressed: true))
        }
        self.compressedEntries.append((encoderID, compressorID, compressed))
        return compressed ?? plain
    }
}

import CPrefetch
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

    /// A channel's local subscribers, changed in place under the shard lock (`channels[key, default:]`,
    /// `channels[key]?`): a copy per join would make filling a channel cost the square of its size.
    struct Subscribers {
        var byConnection: [ConnectionID: any Subscriber] = [:]
        var snapshot: ContiguousArray<LoopGroup>?

        /// Adds or replaces the connection's subscriber; true when it is new.
        mutating func insert(_ subscriber: any Subscriber) -> Bool {
            self.snapshot = nil
            return self.byConnection.updateValue(subscriber, forKey: subscriber.connectionID) == nil
        }

        /// Takes the connection's subscriber out, if it has one.
        mutating func remove(_ connection: ConnectionID) -> (any Subscriber)? {
            guard let removed = self.byConnection.removeValue(forKey: connection) else { return nil }
            self.snapshot = nil
            return removed
        }

        /// The subscribers grouped by the event loop that writes them, built once per change of the set.
        mutating func currentSnapshot() -> ContiguousArray<LoopGroup> {
            if let snapshot { return snapshot }
            var groups = ContiguousArray<LoopGroup>()
            for subscriber in self.byConnection.values {
                let loop = subscriber.eventLoop.map { ObjectIdentifier($0) }
                if let index = groups.firstIndex(where: { $0.key == loop }) {
                    groups[index].add(subscriber)
                } else {
                    var group = LoopGroup(key: loop, loop: subscriber.eventLoop)
                    group.add(subscriber)
                    groups.append(group)
                }
            }
            self.snapshot = groups
            return groups
        }
    }

    /// The subscribers one event loop writes (or, with no loop, that take frames on the broadcasting thread), in
    /// buckets of one wire format and compressor: a broadcast prepares a bucket's frame once, then only queues it, and
    /// counts its deliveries without visiting subscribers.
    struct LoopGroup: Sendable {
        let key: ObjectIdentifier?
        let loop: (any EventLoop)?
        /// The loop's broadcasts on their way: bounded, and counted so its connections can wait for them.
        let broadcasts: LoopBroadcasts?
        var buckets: [Bucket] = []

        struct Bucket: Sendable {
            let encoder: any FrameEncoder
            let encoderID: ObjectIdentifier
            let compressor: (any FrameCompressor)?
            let compressorID: ObjectIdentifier?
            var subscribers = ContiguousArray<any Subscriber>()
        }

        init(key: ObjectIdentifier?, loop: (any EventLoop)?) {
            self.key = key
            self.loop = loop
            self.broadcasts = loop.map { LoopBroadcasts.for($0) }
        }

        mutating func add(_ subscriber: any Subscriber) {
            let encoderID = ObjectIdentifier(Swift.type(of: subscriber.encoder))
            let compressor = subscriber.compressor
            let compressorID = compressor.map { ObjectIdentifier($0) }
            if let index = self.buckets.firstIndex(where: { $0.encoderID == encoderID && $0.compressorID == compressorID }) {
                self.buckets[index].subscribers.append(subscriber)
            } else {
                let encoder = subscriber.encoder
                self.buckets.append(
                    Bucket(encoder: encoder, encoderID: encoderID, compressor: compressor, compressorID: compressorID, subscribers: [subscriber])
                )
            }
        }
    }

    final class Shard: Sendable {
        let channels = Mutex<[ChannelKey: Subscribers]>([:])
    }

    private let shards: [Shard]
    /// Broadcast tasks an event loop may have queued and not yet run (`LoopBroadcasts`). Past it a broadcast queues on
    /// the calling thread instead, so a publisher faster than the loops is slowed rather than piling up tasks.
    public let maxInFlight = 1_024

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
        subscriber.joined(channel: channel)
        return self.shard(for: key).channels.withLock { channels in
            let first = channels[key] == nil
            return (first, channels[key, default: Subscribers()].insert(subscriber))
        }
    }

    /// Removes a subscriber; returns true when the channel has no local subscriber left.
    @discardableResult
    public func remove(_ connection: ConnectionID, app: String, channel: String) -> (last: Bool, removed: Bool) {
        let key = ChannelKey(app: app, channel: channel)
        let (last, removed) = self.shard(for: key).channels.withLock { channels -> (Bool, (any Subscriber)?) in
            guard let removed = channels[key]?.remove(connection) else { return (false, nil) }
            guard channels[key]?.byConnection.isEmpty == true else { return (false, removed) }
            channels[key] = nil
            return (true, removed)
        }
        // Told before the caller answers the unsubscribe: a broadcast that took the old list drops its frame.
        removed?.left(channel: channel)
        return (last, removed != nil)
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
            guard let entry = channels[key] else { return [] }
            return Array(entry.byConnection.values)
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
    /// The message is encoded here once per wire format; each event loop with subscribers then gets one task that
    /// queues (and writes) a loop-local copy of those bytes to its own subscribers, so no per-subscriber work and no
    /// shared reference count crosses threads. Returns the number of subscribers the message is handed to.
    @discardableResult
    public func broadcast(_ message: BusMessage) -> Int { self.broadcastByProtocol(message).values.reduce(0, +) }

    /// `broadcast`, returning the subscribers the message is handed to by their protocol (`FrameEncoder.protocolName`),
    /// counted from each loop's per-encoder tallies without visiting subscribers; protocols with none are left out.
    @discardableResult
    public func broadcastByProtocol(_ message: BusMessage) -> [String: Int] {
        let key = ChannelKey(app: message.app, channel: message.channel)
        let taken = self.shard(for: key).channels.withLock { channels -> (ContiguousArray<LoopGroup>, (any FrameEncoder)?)? in
            guard let groups = channels[key]?.currentSnapshot() else { return nil }
            return (groups, message.sender.flatMap { channels[key]?.byConnection[$0]?.encoder })
        }
        guard let (groups, senderEncoder) = taken else { return [:] }
        var cache = FrameCache()
        var delivered: [String: Int] = [:]
        for group in groups {
            for bucket in group.buckets where cache.plain(for: message, encoder: bucket.encoder) != nil {
                delivered[bucket.encoder.protocolName, default: 0] += bucket.subscribers.count
            }
        }
        if let senderEncoder, cache.plain(for: message, encoder: senderEncoder) != nil {
            let left = delivered[senderEncoder.protocolName, default: 0] - 1
            delivered[senderEncoder.protocolName] = left > 0 ? left : nil
        }
        guard !delivered.isEmpty else { return [:] }
        for group in groups {
            guard let loop = group.loop, let broadcasts = group.broadcasts, broadcasts.hand(atMost: self.maxInFlight) else {
                Self.deliver(message, to: group, cache: &cache)
                continue
            }
            let shared = cache
            loop.execute {
                var local = shared.localCopy()
                Self.deliver(message, to: group, cache: &local)
                broadcasts.queued()
            }
        }
        return delivered
    }

    /// How far ahead a broadcast prefetches its subscribers, and how much of each: a subscriber's object is cold by
    /// the time a busy loop comes back to it, and fetching the next ones while queuing on this one hides their misses.
    /// Three lines hold what a delivery reads (a session declares its queue's state first); more only crowd the misses.
    static let prefetchAhead = 6
    static let prefetchLines: Int32 = 3
    /// How far ahead the subscriber's queue is fetched (`Subscriber.prefetchQueue`): its address is read from the
    /// subscriber's lines fetched three steps before.
    static let prefetchQueueAhead = 3

    private static func deliver(_ message: BusMessage, to group: LoopGroup, cache: inout FrameCache) {
        let sender = message.sender
        // Read once per broadcast: a publication costs its subscribers no check at all.
        let presenceChannel: String?
        if case .presence(let change) = message { presenceChannel = change.channel } else { presenceChannel = nil }
        for bucket in group.buckets {
            guard let frame = cache.prepared(for: message, encoder: bucket.encoder, compressor: bucket.compressor) else { continue }
            let subscribers = bucket.subscribers
            for (index, subscriber) in subscribers.enumerated() {
                if index + Self.prefetchAhead < subscribers.count {
                    switchboard_prefetch(UInt(bitPattern: ObjectIdentifier(subscribers[index + Self.prefetchAhead])), Self.prefetchLines)
                }
                if index + Self.prefetchQueueAhead < subscribers.count { subscribers[index + Self.prefetchQueueAhead].prefetchQueue() }
                if let sender, subscriber.connectionID == sender { continue }
                if let presenceChannel, !subscriber.hears(presenceOf: presenceChannel) { continue }
                subscriber.deliver(frame, of: message)
            }
        }
    }
}

/// The frames of one broadcast, one per encoder type, so each wire format is encoded (and framed for its transport)
/// once; and their compressed forms, one per encoder type and compressor, so each is compressed once.
struct FrameCache: Sendable {
    private var entries: [(encoder: ObjectIdentifier, frame: PreparedFrame?)] = []
    private var compressedEntries: [(encoder: ObjectIdentifier, compressor: ObjectIdentifier, frame: PreparedFrame?)] = []

    /// `message` as `encoder` writes it, uncompressed; nil when that wire format does not show it.
    mutating func plain(for message: BusMessage, encoder: any FrameEncoder) -> PreparedFrame? {
        let encoderID = ObjectIdentifier(type(of: encoder))
        if let entry = self.entries.first(where: { $0.encoder == encoderID }) { return entry.frame }
        let plain = encoder.frame(for: message).map {
            PreparedFrame(bytes: $0, wire: encoder.wire($0, compressed: false), channel: message.channel, offset: message.offset)
        }
        self.entries.append((encoderID, plain))
        return plain
    }

    /// `message` as subscribers of `encoder` and `compressor` take it: the encoder's frame, compressed when that pays.
    mutating func prepared(for message: BusMessage, encoder: any FrameEncoder, compressor: (any FrameCompressor)?) -> PreparedFrame? {
        guard let plain = self.plain(for: message, encoder: encoder) else { return nil }
        guard let compressor else { return plain }
        let encoderID = ObjectIdentifier(type(of: encoder))
        let compressorID = ObjectIdentifier(compressor)
        if let entry = self.compressedEntries.first(where: { $0.encoder == encoderID && $0.compressor == compressorID }) {
            return entry.frame ?? plain
        }
        let compressed = compressor.compress(plain.bytes).map {
            PreparedFrame(bytes: $0, compressed: true, wire: encoder.wire($0, compressed: true), channel: plain.channel, offset: plain.offset)
        }
        self.compressedEntries.append((encoderID, compressorID, compressed))
        return compressed ?? plain
    }

    /// The plain frames with bytes of their own, for one event loop: its subscribers then share buffers only among
    /// themselves (compressed forms are made again there, once per loop).
    func localCopy() -> FrameCache {
        var copy = FrameCache()
        copy.entries = self.entries.map { entry in
            (
                entry.encoder,
                entry.frame.map {
                    PreparedFrame(
                        bytes: Self.copy($0.bytes),
                        compressed: $0.compressed,
                        wire: $0.wire.map(Self.copy),
                        channel: $0.channel,
                        offset: $0.offset
                    )
                }
            )
        }
        return copy
    }

    private static func copy(_ buffer: ByteBuffer) -> ByteBuffer {
        var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        copy.writeImmutableBuffer(buffer)
        return copy
    }
}

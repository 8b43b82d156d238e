import Synchronization

/// The embedded single-node engine: history in memory, fan-out straight into the local hub.
///
/// A publish assigns its offset and fans out under the channel's stripe lock, so every subscriber
/// sees a channel's messages in offset order and a replay can never interleave with a live message.
///
/// A positioned subscribe starts a missing stream (`historyStartingStream`); such message-less streams are bounded
/// by `maxMessagelessStreams` per app and forgotten when idle, as any empty stream is.
///
/// Idempotency keys are checked and recorded under the same stripe lock as the publish, at most
/// `maxIdempotencyKeys` per app (`IdempotencyLedger`).
public final class MemoryEngine: Engine {
    /// The most streams started by a read and still without a message, per app (`maxMessagelessStreams` by default).
    ///
    /// Anyone allowed to subscribe can name new channels, so these stay bounded; the oldest beyond the cap is forgotten.
    /// That is safe: a client holding its epoch is then told it cannot recover and reloads, never that it recovered.
    /// Per app, so one app's subscribers never push out another's streams.
    public static let defaultMaxMessagelessStreams = 10_000
    /// The most idempotency keys remembered per app (`maxIdempotencyKeys` by default); past it the oldest goes first.
    ///
    /// About 60 MB per app at worst (256-byte keys on 200-byte channel names); room for 330 keyed publishes a second
    /// for the whole 5-minute window.
    public static let defaultMaxIdempotencyKeys = 100_000
    /// The memory every channel's kept messages may hold together by default (`[limits] max_history_mb`).
    public static let defaultMaxHistoryBytes = 256 << 20

    struct Key: Hashable {
        var app: String
        var channel: String
    }

    struct Stream {
        var history: ChannelHistory
        var policy: HistoryPolicy
        var lastPublish: Int64
    }

    final class Stripe: Sendable {
        let streams = Mutex<[Key: Stream]>([:])
    }

    /// A stream a read started, named with its epoch so a later run of the same channel is never mistaken for it.
    struct Started: Sendable {
        var key: Key
        var epoch: String
    }

    public let kind = "memory"
    public let presence: any PresenceStore
    private let stripes: [Stripe]
    private let handler = Mutex<(any BrokerEventHandler)?>(nil)
    private let makeEpoch: @Sendable () -> String
    private let journal: any HistoryJournal
    /// Streams started by reads, per app and oldest first; the one pushed out is forgotten if it still has no message.
    private let messageless = Mutex<[String: BoundedRing<Started>]>([:])
    private let maxMessagelessStreams: Int
    /// Recent idempotency keys per app, only touched by publishes that carry one.
    private let idempotency: IdempotencyLedger
    /// What every stream's kept messages cost together (`ChannelHistory.bytes`), held under `maxHistoryBytes()`.
    private let keptBytes = Atomic<Int>(0)
    private let maxHistoryBytes: @Sendable () -> Int
    /// One eviction pass at a time: publishes that find the budget passed while one runs leave it to that one.
    private let evicting = Atomic<Bool>(false)

    /// Creates the engine; `makeEpoch` names new streams (random by default).
    ///
    /// `restored` are streams a journal saved before a restart: they keep their epoch and offsets. `journal`
    /// receives every kept message (nothing outlives the process by default). At most `maxMessagelessStreams` streams
    /// started by a read wait for their first message, and at most `maxIdempotencyKeys` idempotency keys per app are kept.
    /// Kept messages hold at most `maxHistoryBytes()` together (read at each publish, so a reload changes it).
    public init(
        presence: any PresenceStore = MemoryPresenceStore(),
        stripeCount: Int = 64,
        makeEpoch: @escaping @Sendable () -> String = { Epoch.random() },
        restored: [RestoredStream] = [],
        journal: any HistoryJournal = NoHistoryJournal(),
        maxMessagelessStreams: Int = MemoryEngine.defaultMaxMessagelessStreams,
        maxIdempotencyKeys: Int = MemoryEngine.defaultMaxIdempotencyKeys,
        maxHistoryBytes: @escaping @Sendable () -> Int = { MemoryEngine.defaultMaxHistoryBytes }
    ) {
        self.presence = presence
        self.stripes = (0..<max(1, stripeCount)).map { _ in Stripe() }
        self.makeEpoch = makeEpoch
        self.journal = journal
        self.maxMessagelessStreams = maxMessagelessStreams
        self.idempotency = IdempotencyLedger(capacity: maxIdempotencyKeys)
        self.maxHistoryBytes = maxHistoryBytes
        for saved in restored {
            let key = Key(app: saved.app, channel: saved.channel)
            let stream = Stream(history: saved.history, policy: saved.policy, lastPublish: saved.lastPublish)
            self.stripe(key).streams.withLock { $0[key] = stream }
            self.keptBytes.wrappingAdd(saved.history.bytes, ordering: .relaxed)
        }
        // A smaller budget than the last run's applies from the start.
        self.evictIfOverBudget()
    }

    /// Kept messages' bytes, all streams together.
    public var keptHistoryBytes: Int { self.keptBytes.load(ordering: .relaxed) }

    public var historyBytes: Int? { self.keptHistoryBytes }

    /// Runs `change` on the stream's history, and adds what it took or freed to the engine's total.
    private func changing<Result>(_ stream: inout Stream, _ change: (inout ChannelHistory) -> Result) -> Result {
        let before = stream.history.bytes
        let result = change(&stream.history)
        self.keptBytes.wrappingAdd(stream.history.bytes - before, ordering: .relaxed)
        return result
    }

    private func stripe(_ key: Key) -> Stripe {
        var hasher = Hasher()
        hasher.combine(key)
        return self.stripes[Int(UInt(bitPattern: hasher.finalize()) % UInt(self.stripes.count))]
    }

    public func attach(_ handler: any BrokerEventHandler) {
        self.handler.withLock { $0 = handler }
    }

    private var currentHandler: (any BrokerEventHandler)? { self.handler.withLock { $0 } }

    public func publish(_ publication: Publication, history: HistoryPolicy?) -> Publication {
        let handler = self.currentHandler
        guard let history, history.size > 0 else {
            handler?.handle(.publication(publication))
            return publication
        }
        let key = Key(app: publication.app, channel: publication.channel)
        defer { self.evictIfOverBudget() }
        return self.stripe(key).streams.withLock { streams in self.keep(publication, history: history, key: key, in: &streams, handler: handler) }
    }

    public func publish(_ publication: Publication, history: HistoryPolicy?, idempotencyKey: IdempotencyKey) -> IdempotentPublish {
        let handler = self.currentHandler
        let key = Key(app: publication.app, channel: publication.channel)
        defer { self.evictIfOverBudget() }
        // Under the channel's stripe lock, even without history: two retries of one key cannot both miss the ledger.
        return self.stripe(key).streams.withLock { streams in
            let now = publication.timestamp
            if let first = self.idempotency.recorded(app: key.app, channel: key.channel, key: idempotencyKey, now: now) {
                var answer = publication
                answer.position = first.position
                return IdempotentPublish(publication: answer, isDuplicate: true)
            }
            let published: Publication
            if let history, history.size > 0 {
                published = self.keep(publication, history: history, key: key, in: &streams, handler: handler)
            } else {
                handler?.handle(.publication(publication))
                published = publication
            }
            self.idempotency.record(app: key.app, channel: key.channel, key: idempotencyKey, position: published.position, now: now)
            return IdempotentPublish(publication: published, isDuplicate: false)
        }
    }

    /// Appends to the channel's stream (starting it when missing), journals and fans out; the caller holds the stripe.
    private func keep(
        _ publication: Publication,
        history: HistoryPolicy,
        key: Key,
        in streams: inout [Key: Stream],
        handler: (any BrokerEventHandler)?
    ) -> Publication {
        // Taken out of the dictionary, not copied: a copy would share the history's storage, and the append below
        // would then copy every kept message on each publish.
        var stream =
            streams.removeValue(forKey: key)
            ?? Stream(history: ChannelHistory(epoch: self.makeEpoch()), policy: history, lastPublish: publication.timestamp)
        stream.policy = history
        stream.lastPublish = publication.timestamp
        let kept = self.changing(&stream) { $0.append(publication, policy: history, now: publication.timestamp) }
        streams[key] = stream
        self.journal.kept(kept, policy: history)
        handler?.handle(.publication(kept))
        return kept
    }

    /// Idempotency keys held for `app` now (for tests of the bound).
    package func idempotencyKeyCount(app: String) -> Int { self.idempotency.count(app: app) }

    public func publish(_ change: PresenceChange) {
        self.currentHandler?.handle(.presence(change))
    }

    public func subscribe(app: String, channel: String) {}

    public func unsubscribe(app: String, channel: String) {}

    public func history(app: String, channel: String, after offset: UInt64?, limit: Int?, policy: HistoryPolicy) -> HistoryPage {
        let key = Key(app: app, channel: channel)
        return self.stripe(key).streams.withLock { streams in
            guard var stream = streams.removeValue(forKey: key) else { return HistoryPage(publications: [], latest: nil, truncated: false) }
            self.changing(&stream) { $0.trim(policy: policy, now: WallClock.milliseconds()) }
            streams[key] = stream
            if let offset { return stream.history.messages(after: offset, limit: limit) }
            let publications = limit.map { stream.history.latest(limit: $0) } ?? stream.history.messages(after: 0).publications
            return HistoryPage(publications: publications, latest: stream.history.position, truncated: false)
        }
    }

    public func historyStartingStream(app: String, channel: String, after offset: UInt64, limit: Int? = nil, policy: HistoryPolicy) -> HistoryPage {
        let key = Key(app: app, channel: channel)
        let now = WallClock.milliseconds()
        let (page, started) = self.stripe(key).streams.withLock { streams -> (HistoryPage, Started?) in
            guard var stream = streams.removeValue(forKey: key) else {
                // Not journaled: a restart only loses an epoch no message was given, which fails recovery, never fakes it.
                let stream = Stream(history: ChannelHistory(epoch: self.makeEpoch()), policy: policy, lastPublish: now)
                streams[key] = stream
                return (stream.history.messages(after: offset, limit: limit), Started(key: key, epoch: stream.history.epoch))
            }
            self.changing(&stream) { $0.trim(policy: policy, now: now) }
            streams[key] = stream
            return (stream.history.messages(after: offset, limit: limit), nil)
        }
        // Taken after the stripe's lock is let go: one lock at a time, so no order between them to keep.
        guard let started else { return page }
        let evicted = self.messageless.withLock { rings in
            var ring = rings.removeValue(forKey: app) ?? BoundedRing(capacity: self.maxMessagelessStreams)
            defer { rings[app] = ring }
            return ring.append(started)
        }
        if let evicted { self.forgetIfMessageless(evicted) }
        return page
    }

    /// Forgets a stream a read started when it still has that epoch and no message.
    private func forgetIfMessageless(_ started: Started) {
        self.stripe(started.key).streams.withLock { streams in
            guard let stream = streams[started.key], stream.history.lastOffset == 0, stream.history.epoch == started.epoch else { return }
            streams[started.key] = nil
        }
    }

    public func removeHistory(app: String, channel: String) {
        let key = Key(app: app, channel: channel)
        self.stripe(key).streams.withLock { streams in
            guard var stream = streams.removeValue(forKey: key) else { return }
            self.changing(&stream) { $0.removeAll() }
            streams[key] = stream
            // The journal forgets the stream: a restart before the next publish starts a new epoch, which fails
            // recovery rather than faking it; the next publish is journaled with the epoch and offset it continues.
            if stream.history.lastOffset > 0 { self.journal.dropped(app: app, channel: channel) }
        }
    }

    /// Past the budget, history is cut where it is largest: first between apps, the apps keeping the most down to one
    /// level for all, then within each such app its largest streams first, each down to a level, oldest messages
    /// first. A flood, however many channels it spreads over, costs its own app's history before another app's, and
    /// its largest channels before its quiet ones. A pass frees the excess and a tenth of the budget, and stops there,
    /// so passes stay rare and never empty everything; the journal forgets what was let go.
    func evictIfOverBudget() {
        let limit = max(0, self.maxHistoryBytes())
        guard self.keptBytes.load(ordering: .relaxed) > limit,
            self.evicting.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return }
        defer { self.evicting.store(false, ordering: .releasing) }
        var byApp: [String: [(key: Key, bytes: Int)]] = [:]
        for stripe in self.stripes {
            stripe.streams.withLock { streams in
                for (key, stream) in streams where stream.history.bytes > 0 { byApp[key.app, default: []].append((key, stream.history.bytes)) }
            }
        }
        let totals = byApp.mapValues { $0.reduce(0) { $0 + $1.bytes } }
        var left = totals.values.reduce(0, +) - (limit - limit / 10)
        let appLevel = Self.level(Array(totals.values), freeing: left)
        for (app, total) in totals.sorted(by: { $0.value > $1.value }) where total > appLevel && left > 0 {
            let streams = byApp[app, default: []].sorted { $0.bytes > $1.bytes }
            var owed = min(left, total - appLevel)
            let level = Self.level(streams.map(\.bytes), freeing: owed)
            for (key, bytes) in streams where bytes > level && owed > 0 {
                let freed = self.stripe(key).streams.withLock { streams -> Int in
                    guard var stream = streams.removeValue(forKey: key) else { return 0 }
                    let before = stream.history.bytes
                    // Cut no further than the app still owes: with many streams of one message each, a level below a
                    // message would otherwise empty them all.
                    let keep = max(level, before - owed)
                    let last = self.changing(&stream) { $0.dropOldest(keepingAtMost: keep) }
                    streams[key] = stream
                    if let last { self.journal.evicted(app: key.app, channel: key.channel, through: last) }
                    return before - stream.history.bytes
                }
                owed -= freed
                left -= freed
            }
        }
    }

    /// The most bytes a stream may keep so that cutting every larger one down to it frees `freeing` (water-filling):
    /// small streams are not touched unless the large ones cannot free enough.
    static func level(_ sizes: [Int], freeing: Int) -> Int {
        guard freeing > 0 else { return Int.max }
        let sorted = sizes.sorted(by: >)
        var prefix = 0
        for (index, size) in sorted.enumerated() {
            prefix += size
            let count = index + 1
            // Cutting the `count` largest to `level` frees `prefix - count * level`.
            let level = (prefix - freeing) / count
            let next = count < sorted.count ? sorted[count] : 0
            if level >= next { return max(0, level) }
        }
        return 0
    }

    public func sweep(now: Int64) {
        self.idempotency.sweep(now: now)
        for stripe in self.stripes {
            stripe.streams.withLock { streams in
                for key in Array(streams.keys) {
                    guard var stream = streams.removeValue(forKey: key) else { continue }
                    let policy = stream.policy
                    self.changing(&stream) { $0.trim(policy: policy, now: now) }
                    // A stream with nothing kept and idle for twice its ttl is forgotten; the next publish starts a new epoch.
                    if stream.history.count == 0 && now - stream.lastPublish > 2 * stream.policy.ttlMilliseconds {
                        streams[key] = nil
                        // A stream a read started and nothing was published to was never journaled.
                        if stream.history.lastOffset > 0 { self.journal.dropped(app: key.app, channel: key.channel) }
                    } else {
                        streams[key] = stream
                    }
                }
            }
        }
    }
}

/// Names for stream epochs.
public enum Epoch {
    /// A fresh random epoch, eight hex characters.
    public static func random() -> String {
        let value = UInt32.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

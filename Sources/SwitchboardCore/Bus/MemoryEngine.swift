import Synchronization

/// The embedded single-node engine: history in memory, fan-out straight into the local hub.
///
/// A publish assigns its offset and fans out under the channel's stripe lock, so every subscriber
/// sees a channel's messages in offset order and a replay can never interleave with a live message.
public final class MemoryEngine: Engine {
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

    public let kind = "memory"
    public let presence: any PresenceStore
    private let stripes: [Stripe]
    private let handler = Mutex<(any BrokerEventHandler)?>(nil)
    private let makeEpoch: @Sendable () -> String
    private let journal: any HistoryJournal

    /// Creates the engine; `makeEpoch` names new streams (random by default).
    ///
    /// `restored` are streams a journal saved before a restart: they keep their epoch and offsets. `journal`
    /// receives every kept message (nothing outlives the process by default).
    public init(
        presence: any PresenceStore = MemoryPresenceStore(),
        stripeCount: Int = 64,
        makeEpoch: @escaping @Sendable () -> String = { Epoch.random() },
        restored: [RestoredStream] = [],
        journal: any HistoryJournal = NoHistoryJournal()
    ) {
        self.presence = presence
        self.stripes = (0..<max(1, stripeCount)).map { _ in Stripe() }
        self.makeEpoch = makeEpoch
        self.journal = journal
        for saved in restored {
            let key = Key(app: saved.app, channel: saved.channel)
            let stream = Stream(history: saved.history, policy: saved.policy, lastPublish: saved.lastPublish)
            self.stripe(key).streams.withLock { $0[key] = stream }
        }
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
        return self.stripe(key).streams.withLock { streams in
            // Taken out of the dictionary, not copied: a copy would share the history's storage, and the append below
            // would then copy every kept message on each publish.
            var stream =
                streams.removeValue(forKey: key)
                ?? Stream(history: ChannelHistory(epoch: self.makeEpoch()), policy: history, lastPublish: publication.timestamp)
            stream.policy = history
            stream.lastPublish = publication.timestamp
            let kept = stream.history.append(publication, policy: history, now: publication.timestamp)
            streams[key] = stream
            self.journal.kept(kept, policy: history)
            handler?.handle(.publication(kept))
            return kept
        }
    }

    public func publish(_ change: PresenceChange) {
        self.currentHandler?.handle(.presence(change))
    }

    public func subscribe(app: String, channel: String) {}

    public func unsubscribe(app: String, channel: String) {}

    public func history(app: String, channel: String, after offset: UInt64?, limit: Int?, policy: HistoryPolicy) -> HistoryPage {
        let key = Key(app: app, channel: channel)
        return self.stripe(key).streams.withLock { streams in
            guard var stream = streams.removeValue(forKey: key) else { return HistoryPage(publications: [], latest: nil, truncated: false) }
            stream.history.trim(policy: policy, now: WallClock.milliseconds())
            streams[key] = stream
            if let offset { return stream.history.messages(after: offset, limit: limit) }
            let all = stream.history.messages(after: 0)
            let publications = limit.map { Array(all.publications.suffix($0)) } ?? all.publications
            return HistoryPage(publications: publications, latest: stream.history.position, truncated: false)
        }
    }

    public func removeHistory(app: String, channel: String) {
        let key = Key(app: app, channel: channel)
        self.stripe(key).streams.withLock { streams in
            if streams.removeValue(forKey: key) != nil { self.journal.dropped(app: app, channel: channel) }
        }
    }

    public func sweep(now: Int64) {
        for stripe in self.stripes {
            stripe.streams.withLock { streams in
                for key in Array(streams.keys) {
                    guard var stream = streams.removeValue(forKey: key) else { continue }
                    stream.history.trim(policy: stream.policy, now: now)
                    // A stream with nothing kept and idle for twice its ttl is forgotten; the next publish starts a new epoch.
                    if stream.history.count == 0 && now - stream.lastPublish > 2 * stream.policy.ttlMilliseconds {
                        streams[key] = nil
                        self.journal.dropped(app: key.app, channel: key.channel)
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

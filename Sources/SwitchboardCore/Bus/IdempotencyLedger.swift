import NIOCore
import Synchronization

/// The memory engine's record of recent idempotency keys: per app, the first publish's position by (channel, key).
///
/// Anyone holding an app's API key can send a new key with every publish, so each app keeps at most `capacity` keys;
/// past it the oldest recorded goes first, even inside its window (a retry of it would then publish again). Per app,
/// so one app's publishers never push out another's keys. Expired keys go as new ones arrive and on `sweep`.
final class IdempotencyLedger: Sendable {
    struct Key: Hashable {
        var channel: String
        var key: String
    }

    /// What the first publish under a key answered.
    struct Recorded {
        var position: StreamPosition?
        var expires: Int64
        /// Tells this recording from an earlier, expired one of the same key still queued in `order`.
        var stamp: UInt64
    }

    struct Queued {
        var key: Key
        var expires: Int64
        var stamp: UInt64
    }

    /// One app's keys, and the order they were recorded in (oldest first).
    struct Book {
        var recorded: [Key: Recorded] = [:]
        var order = CircularBuffer<Queued>()
        var nextStamp: UInt64 = 0

        /// Forgets queued keys, oldest first, while they are expired or more than `capacity` are queued.
        mutating func trim(now: Int64, capacity: Int) {
            while let oldest = self.order.first, oldest.expires <= now || self.order.count > capacity {
                self.order.removeFirst()
                if self.recorded[oldest.key]?.stamp == oldest.stamp { self.recorded[oldest.key] = nil }
            }
        }
    }

    /// The most keys kept per app.
    let capacity: Int
    private let books = Mutex<[String: Book]>([:])

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// What the first publish under `key` on the channel answered, when that was within the key's window.
    func recorded(app: String, channel: String, key: IdempotencyKey, now: Int64) -> Recorded? {
        self.books.withLock { books in
            guard let recorded = books[app]?.recorded[Key(channel: channel, key: key.value)], recorded.expires > now else { return nil }
            return recorded
        }
    }

    /// Remembers that the channel published under `key` at `now`, answering `position`.
    func record(app: String, channel: String, key: IdempotencyKey, position: StreamPosition?, now: Int64) {
        self.books.withLock { books in
            var book = books.removeValue(forKey: app) ?? Book()
            defer { books[app] = book }
            book.nextStamp += 1
            let entry = Key(channel: channel, key: key.value)
            let expires = now + key.windowMilliseconds
            book.recorded[entry] = Recorded(position: position, expires: expires, stamp: book.nextStamp)
            book.order.append(Queued(key: entry, expires: expires, stamp: book.nextStamp))
            book.trim(now: now, capacity: self.capacity)
        }
    }

    /// Forgets expired keys; apps left with none are dropped.
    func sweep(now: Int64) {
        self.books.withLock { books in
            for app in Array(books.keys) {
                guard var book = books.removeValue(forKey: app) else { continue }
                book.trim(now: now, capacity: self.capacity)
                if !book.order.isEmpty { books[app] = book }
            }
        }
    }

    /// Keys held for `app` now, expired ones not yet swept included.
    func count(app: String) -> Int { self.books.withLock { $0[app]?.recorded.count ?? 0 } }
}

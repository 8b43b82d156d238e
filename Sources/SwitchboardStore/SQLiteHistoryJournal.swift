public import Logging
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// Saves the memory engine's history to the SQLite store in batches, off the publish path, and reads it back at start.
///
/// `kept` is one append to a locked buffer; the service writes the buffer in one transaction every `interval`, or
/// sooner once `batchSize` changes wait, and once more on graceful shutdown. A crash loses at most what was buffered.
///
/// ```swift
/// let journal = SQLiteHistoryJournal(store: store)
/// let engine = MemoryEngine(restored: try journal.restore(now: WallClock.milliseconds()), journal: journal)
/// // run `journal` as a service that starts before the server and stops after it
/// ```
public final class SQLiteHistoryJournal: HistoryJournal, Service {
    struct Buffer {
        var changes: [HistoryChange] = []
        var lost: [HistoryStreamKey: LostHistory] = [:]
        var lostCount = 0
        /// What the buffered messages hold (`ChannelHistory.cost`), bounded by `maxBufferedBytes`.
        var bytes = 0
    }

    private let store: SQLiteStore
    private let buffer = Mutex(Buffer())
    /// Held while writing, so the service's flushes and a caller's never interleave.
    private let writing = Mutex(())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let interval: Duration
    private let batchSize: Int
    private let maxBuffered: Int
    private let maxBufferedBytes: Int
    private let pruneEvery: Duration
    private let crashGap: UInt64
    private let logger: Logger

    /// Creates a journal writing to `store` every `interval` (or once `batchSize` changes wait).
    ///
    /// At most `maxBuffered` unwritten changes, holding at most `maxBufferedBytes`, are held; past that a message is not
    /// saved, and its stream's saved history is cut before it (a client asking from before the gap is told so). Expired rows are pruned every `pruneEvery`.
    /// After a crash every stream's next offset skips `crashGap` ahead, past any offset handed out but not written.
    public init(
        store: SQLiteStore,
        interval: Duration = .milliseconds(50),
        batchSize: Int = 1000,
        maxBuffered: Int = 100_000,
        maxBufferedBytes: Int = 64 << 20,
        pruneEvery: Duration = .seconds(30),
        crashGap: UInt64 = 1_000_000,
        logger: Logger = Logger(label: "switchboard.history")
    ) {
        self.store = store
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.maxBuffered = max(self.batchSize, maxBuffered)
        self.maxBufferedBytes = maxBufferedBytes
        self.pruneEvery = pruneEvery
        self.crashGap = crashGap
        self.logger = logger
        (self.wakeups, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The saved streams, within their bounds at `now` (expired rows are deleted first); marks the history open.
    ///
    /// After a crash (the history was left open), each stream keeps its epoch and messages, and its next offset
    /// skips `crashGap` ahead: offsets handed out in the last unwritten batch are never given out again.
    public func restore(now: Int64) throws -> [RestoredStream] {
        let (streams, crashed) = try self.writing.withLock { _ in try self.store.loadHistory(now: now, crashGap: self.crashGap) }
        if crashed && !streams.isEmpty {
            self.logger.warning(
                "history was not closed cleanly; offsets skip ahead past what the last batch may have lost",
                metadata: ["channels": "\(streams.count)", "gap": "\(self.crashGap)"]
            )
        }
        return streams
    }

    /// Writes what is buffered and marks the history closed, so the next start needs no crash gap.
    public func close() {
        self.flush()
        self.writing.withLock { _ in
            let clean = self.buffer.withLock { $0.changes.isEmpty && $0.lost.isEmpty }
            guard clean else { return }
            do {
                try self.store.closeHistory()
            } catch {
                self.logger.error("cannot close history", metadata: ["error": "\(error)"])
            }
        }
    }

    public func kept(_ publication: Publication, policy: HistoryPolicy) {
        let cost = ChannelHistory.cost(of: publication)
        let full = self.buffer.withLock { buffer -> Bool in
            guard buffer.changes.count < self.maxBuffered, buffer.bytes + cost <= self.maxBufferedBytes else {
                if let position = publication.position {
                    let key = HistoryStreamKey(app: publication.app, channel: publication.channel)
                    buffer.lost[key] = LostHistory(position: position, policy: policy, time: publication.timestamp)
                }
                buffer.lostCount += 1
                return false
            }
            buffer.changes.append(.kept(publication, policy))
            buffer.bytes += cost
            // Large messages fill the buffer's bytes long before its count: written early, they are not lost.
            return buffer.changes.count == self.batchSize || buffer.bytes > self.maxBufferedBytes / 2
        }
        if full { self.wake.yield() }
    }

    public func dropped(app: String, channel: String) {
        let key = HistoryStreamKey(app: app, channel: channel)
        self.buffer.withLock { buffer in
            buffer.lost[key] = nil
            buffer.changes.append(.dropped(key))
        }
    }

    public func evicted(app: String, channel: String, through position: StreamPosition) {
        let key = HistoryStreamKey(app: app, channel: channel)
        self.buffer.withLock { $0.changes.append(.evicted(key, position)) }
    }

    /// Writes what is buffered now, in one transaction.
    public func flush() {
        self.writing.withLock { _ in
            let taken = self.buffer.withLock { buffer in
                defer { buffer = Buffer() }
                return buffer
            }
            if taken.lostCount > 0 {
                self.logger.warning("history writes fell behind; messages not saved", metadata: ["count": "\(taken.lostCount)"])
            }
            do {
                try self.store.writeHistory(taken.changes, lost: taken.lost)
            } catch {
                self.logger.error("cannot write history", metadata: ["error": "\(error)"])
                self.requeueAsLost(taken)
            }
        }
    }

    /// A batch that could not be written becomes a gap the next batch records, instead of a hole nobody sees.
    private func requeueAsLost(_ batch: Buffer) {
        self.buffer.withLock { buffer in
            for change in batch.changes {
                guard case .kept(let publication, let policy) = change, let position = publication.position else { continue }
                let key = HistoryStreamKey(app: publication.app, channel: publication.channel)
                buffer.lost[key] = LostHistory(position: position, policy: policy, time: publication.timestamp)
            }
            for (key, missed) in batch.lost where buffer.lost[key] == nil { buffer.lost[key] = missed }
        }
    }

    /// Deletes saved messages older than their channel's ttl.
    public func prune(now: Int64) {
        self.writing.withLock { _ in
            do {
                try self.store.pruneHistory(now: now)
            } catch {
                self.logger.error("cannot prune history", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Writes batches until graceful shutdown, then writes what is left.
    ///
    /// Listed before the server, so it shuts down after it: the last publish is buffered before the last flush.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [wake, interval] in
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                    wake.yield()
                }
                wake.finish()
            }
            var pruned = ContinuousClock.now
            for await _ in self.wakeups {
                self.flush()
                if ContinuousClock.now - pruned >= self.pruneEvery {
                    self.prune(now: WallClock.milliseconds())
                    pruned = .now
                }
            }
        }
        self.close()
    }
}

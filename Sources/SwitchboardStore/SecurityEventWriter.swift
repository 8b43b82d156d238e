public import Logging
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// Buffers security events in memory and writes them to the store in batches, off the request path.
///
/// `record` never blocks; a flood of refusals costs one O(1) append each, and at most `maxBuffered`
/// unwritten events are held (the oldest are overwritten, counted, and reported to `onDrop` at the next flush).
/// It also enforces the security center's retention: events older than `maxAge` and beyond the newest `retain`
/// are pruned every `pruneInterval`.
public final class SecurityEventWriter: SecurityEventSink, Service {
    struct Buffer {
        var events: BoundedRing<SecurityEvent>
        var dropped = 0
        var droppedTotal = 0
    }

    private let store: SQLiteStore
    private let buffer: Mutex<Buffer>
    private let maxBuffered: Int
    private let retain: Int
    private let maxAgeMilliseconds: Int64
    private let interval: Duration
    private let pruneInterval: Duration
    private let logger: Logger
    private let onDrop: @Sendable (Int) -> Void

    /// Creates a writer flushing every `interval`, keeping the newest `retain` events no older than `maxAgeMilliseconds`
    /// (`[store] security_event_max_rows = 100000`, `security_event_retention = "7d"`); `onDrop` hears how many
    /// events the full buffer overwrote, once per flush.
    public init(
        store: SQLiteStore,
        retain: Int = 100_000,
        maxAgeMilliseconds: Int64 = 7 * 86_400_000,
        maxBuffered: Int = 10_000,
        interval: Duration = .milliseconds(250),
        pruneInterval: Duration = .seconds(60),
        logger: Logger,
        onDrop: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.store = store
        self.retain = retain
        self.maxAgeMilliseconds = maxAgeMilliseconds
        self.maxBuffered = maxBuffered
        self.buffer = Mutex(Buffer(events: BoundedRing(capacity: maxBuffered)))
        self.onDrop = onDrop
        self.interval = interval
        self.pruneInterval = pruneInterval
        self.logger = logger
    }

    public func record(_ event: SecurityEvent) {
        self.buffer.withLock { buffer in
            if buffer.events.append(event) != nil {
                buffer.dropped += 1
                buffer.droppedTotal += 1
            }
        }
    }

    /// Events overwritten in the buffer before they could be written, since the start.
    public var droppedTotal: Int { self.buffer.withLock { $0.droppedTotal } }

    /// Writes what is buffered now.
    public func flush() {
        let (events, dropped) = self.buffer.withLock { buffer in
            defer { buffer.dropped = 0 }
            return (buffer.events.removeAll(), buffer.dropped)
        }
        if dropped > 0 {
            self.logger.warning("security events dropped under load", metadata: ["count": "\(dropped)"])
            self.onDrop(dropped)
        }
        guard !events.isEmpty else { return }
        do {
            try self.store.append(events, retain: self.retain)
        } catch {
            self.logger.error("cannot write security events", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes events past the retention age or count.
    public func prune(now: Int64 = WallClock.milliseconds()) {
        do {
            let deleted = try self.store.pruneSecurityEvents(before: now - self.maxAgeMilliseconds, maxRows: self.retain)
            if deleted > 0 { self.logger.debug("pruned security events", metadata: ["count": "\(deleted)"]) }
        } catch {
            self.logger.error("cannot prune security events", metadata: ["error": "\(error)"])
        }
    }

    public func run() async throws {
        let clock = ContinuousClock()
        var nextPrune = clock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if clock.now >= nextPrune {
                self.prune()
                nextPrune = clock.now.advanced(by: self.pruneInterval)
            }
            try? await Task.sleep(for: self.interval)
            self.flush()
        }
        self.flush()
    }
}

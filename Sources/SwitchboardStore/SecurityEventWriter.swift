public import Logging
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// Buffers security events in memory and writes them to the store in batches, off the request path.
///
/// `record` never blocks; a flood of refusals costs one append each, and at most `maxBuffered`
/// unwritten events are held (the oldest are dropped and counted). It also enforces the security center's
/// retention: events older than `maxAge` and beyond the newest `retain` are pruned every `pruneInterval`.
public final class SecurityEventWriter: SecurityEventSink, Service {
    struct Buffer {
        var events: [SecurityEvent] = []
        var dropped = 0
    }

    private let store: SQLiteStore
    private let buffer = Mutex(Buffer())
    private let maxBuffered: Int
    private let retain: Int
    private let maxAgeMilliseconds: Int64
    private let interval: Duration
    private let pruneInterval: Duration
    private let logger: Logger

    /// Creates a writer flushing every `interval`, keeping the newest `retain` events no older than `maxAgeMilliseconds`
    /// (`[store] security_event_max_rows = 100000`, `security_event_retention = "7d"`).
    public init(
        store: SQLiteStore,
        retain: Int = 100_000,
        maxAgeMilliseconds: Int64 = 7 * 86_400_000,
        maxBuffered: Int = 10_000,
        interval: Duration = .milliseconds(250),
        pruneInterval: Duration = .seconds(60),
        logger: Logger
    ) {
        self.store = store
        self.retain = retain
        self.maxAgeMilliseconds = maxAgeMilliseconds
        self.maxBuffered = maxBuffered
        self.interval = interval
        self.pruneInterval = pruneInterval
        self.logger = logger
    }

    public func record(_ event: SecurityEvent) {
        self.buffer.withLock { buffer in
            if buffer.events.count >= self.maxBuffered {
                buffer.events.removeFirst()
                buffer.dropped += 1
            }
            buffer.events.append(event)
        }
    }

    /// Writes what is buffered now.
    public func flush() {
        let (events, dropped) = self.buffer.withLock { buffer in
            defer { buffer = Buffer() }
            return (buffer.events, buffer.dropped)
        }
        if dropped > 0 { self.logger.warning("security events dropped under load", metadata: ["count": "\(dropped)"]) }
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

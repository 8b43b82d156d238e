public import Logging
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// Buffers security events in memory and writes them to the store in batches, off the request path.
///
/// `record` never blocks; a flood of refusals costs one append each, and at most `maxBuffered`
/// unwritten events are held (the oldest are dropped and counted).
public final class SecurityEventWriter: SecurityEventSink, Service {
    struct Buffer {
        var events: [SecurityEvent] = []
        var dropped = 0
    }

    private let store: SQLiteStore
    private let buffer = Mutex(Buffer())
    private let maxBuffered: Int
    private let retain: Int
    private let interval: Duration
    private let logger: Logger

    /// Creates a writer flushing every `interval`, keeping the newest `retain` events in the store.
    public init(store: SQLiteStore, retain: Int = 100_000, maxBuffered: Int = 10_000, interval: Duration = .milliseconds(250), logger: Logger) {
        self.store = store
        self.retain = retain
        self.maxBuffered = maxBuffered
        self.interval = interval
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

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: self.interval)
            self.flush()
        }
        self.flush()
    }
}

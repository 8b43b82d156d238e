import Synchronization

/// The newest security events in a bounded ring, for the admin API and tests: O(1) per event, whatever the load.
public final class MemorySecurityLog: SecurityEventSink {
    private let state: Mutex<BoundedRing<SecurityEvent>>

    /// Keeps at most `capacity` events; older ones are overwritten.
    public init(capacity: Int = 10_000) {
        self.state = Mutex(BoundedRing(capacity: capacity))
    }

    public func record(_ event: SecurityEvent) {
        self.state.withLock { _ = $0.append(event) }
    }

    /// Events matching `query`, newest first.
    public func events(_ query: SecurityEventQuery) -> [SecurityEvent] {
        self.state.withLock { ring in
            Array(ring.newestFirst.lazy.filter(query.matches).prefix(query.limit))
        }
    }

    /// Events held now.
    public var count: Int { self.state.withLock { $0.count } }
}

/// Sends every event to each of several sinks (memory for the API, the store for durability, the log).
public struct FanOutSecuritySink: SecurityEventSink {
    let sinks: [any SecurityEventSink]

    /// Creates a sink forwarding to `sinks`.
    public init(_ sinks: [any SecurityEventSink]) { self.sinks = sinks }

    public func record(_ event: SecurityEvent) {
        for sink in self.sinks { sink.record(event) }
    }
}

import Synchronization

/// The newest security events in a bounded ring, for the admin API and tests.
public final class MemorySecurityLog: SecurityEventSink {
    private let state: Mutex<[SecurityEvent]>
    private let capacity: Int

    /// Keeps at most `capacity` events.
    public init(capacity: Int = 10_000) {
        self.capacity = capacity
        self.state = Mutex([])
    }

    public func record(_ event: SecurityEvent) {
        self.state.withLock { events in
            events.append(event)
            if events.count > self.capacity { events.removeFirst(events.count - self.capacity) }
        }
    }

    /// Events matching `query`, newest first.
    public func events(_ query: SecurityEventQuery) -> [SecurityEvent] {
        self.state.withLock { events in
            Array(events.reversed().lazy.filter(query.matches).prefix(query.limit))
        }
    }
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

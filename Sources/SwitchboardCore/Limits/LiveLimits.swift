import Synchronization

/// The edge-wide `[limits]` in force, shared by everything that applies them, and swapped whole by a SIGHUP reload.
///
/// One instance per edge: the gate, the adapters, the security sink and every connection's `ClientBudget` read it
/// at the point of use instead of keeping a copy. Readers on a hot path compare `generation` (one atomic load) with
/// the one they last saw and read the values again only when it moved.
///
/// ```swift
/// let limits = LiveLimits(LiveLimits.Values(client: config.client))
/// var budget = ClientBudget(limits, now: now)   // follows every later `limits.replace(...)`
/// ```
public final class LiveLimits: Sendable {
    /// The `[limits]` keys that apply without a restart; defaults as in the config.
    public struct Values: Sendable, Equatable {
        /// Per-connection budgets (`commands_per_second`, `max_refusals`, ...): open connections follow from their next command.
        public var client: ClientLimits
        /// `max_queued_frames = 4096`: frames queued per connection before it is closed as too slow (new connections).
        public var maxQueuedFrames: Int
        /// `sse_keepalive_seconds = 15`: seconds between SSE keepalive comments (new streams).
        public var sseKeepaliveSeconds: Int
        /// `compression_min_bytes = 256`: shorter WebSocket messages go out uncompressed (new connections).
        public var compressionMinBytes: Int
        /// `new_connections_per_ip_per_second = 50`: 0 = unlimited.
        public var newConnectionsPerIPPerSecond: Int
        /// `security_events_per_ip_per_second = 20`: 0 keeps every event.
        public var securityEventsPerIPPerSecond: Int
        /// `presence_timeout_seconds = 30`: a presence holder not heard of for this long leaves (next sweep).
        public var presenceTimeoutSeconds: Int
        /// `write_batch_ms = 0`: the least time between two batches of WebSocket writes on one event loop (next batch).
        public var writeBatchMilliseconds: Int
        /// `publish_lag_ms = 20`: publishes wait while WebSocket writes lag more than this (next publish; 0 = never).
        public var publishLagMilliseconds: Int
        /// `max_history_mb = 256`: kept messages of every channel together, in memory or in Redis (next publish).
        public var maxHistoryMegabytes: Int
        /// `max_connections_per_ip = 1000`: open WebSocket connections and SSE streams per client address, loopback
        /// excepted (new connections; 0 = unlimited).
        public var maxConnectionsPerIP: Int
        /// `max_sockets_per_ip = 1200`: open TCP connections of every kind per peer address, counted at accept
        /// (new connections; 0 = unlimited).
        public var maxSocketsPerIP: Int
        /// `auto_block_refusals = 0`: refusals of one client address (an IPv6 client's /64) within
        /// `auto_block_window_seconds` that block it for `auto_block_seconds` (next refusal; 0 = never).
        public var autoBlockRefusals: Int
        /// `auto_block_window_seconds = 60`.
        public var autoBlockWindowSeconds: Int
        /// `auto_block_seconds = 600`: how long an automatic block lasts.
        public var autoBlockSeconds: Int
        /// `auto_block_kinds`: the refusals that count (default `SecurityEvent.Kind.clientCaused`).
        public var autoBlockKinds: Set<SecurityEvent.Kind>

        /// Values with the config's defaults, unless given.
        public init(
            client: ClientLimits = ClientLimits(),
            maxQueuedFrames: Int = 4096,
            sseKeepaliveSeconds: Int = 15,
            compressionMinBytes: Int = 256,
            newConnectionsPerIPPerSecond: Int = 50,
            securityEventsPerIPPerSecond: Int = 20,
            presenceTimeoutSeconds: Int = 30,
            writeBatchMilliseconds: Int = 0,
            publishLagMilliseconds: Int = 20,
            maxHistoryMegabytes: Int = 256,
            maxConnectionsPerIP: Int = 1000,
            maxSocketsPerIP: Int = 1200,
            autoBlockRefusals: Int = 0,
            autoBlockWindowSeconds: Int = 60,
            autoBlockSeconds: Int = 600,
            autoBlockKinds: Set<SecurityEvent.Kind> = SecurityEvent.Kind.clientCaused
        ) {
            self.client = client
            self.maxQueuedFrames = maxQueuedFrames
            self.sseKeepaliveSeconds = sseKeepaliveSeconds
            self.compressionMinBytes = compressionMinBytes
            self.newConnectionsPerIPPerSecond = newConnectionsPerIPPerSecond
            self.securityEventsPerIPPerSecond = securityEventsPerIPPerSecond
            self.presenceTimeoutSeconds = presenceTimeoutSeconds
            self.writeBatchMilliseconds = writeBatchMilliseconds
            self.publishLagMilliseconds = publishLagMilliseconds
            self.maxHistoryMegabytes = maxHistoryMegabytes
            self.maxConnectionsPerIP = maxConnectionsPerIP
            self.maxSocketsPerIP = maxSocketsPerIP
            self.autoBlockRefusals = autoBlockRefusals
            self.autoBlockWindowSeconds = autoBlockWindowSeconds
            self.autoBlockSeconds = autoBlockSeconds
            self.autoBlockKinds = autoBlockKinds
        }
    }

    private let values: Mutex<Values>
    private let changes = Atomic<UInt64>(0)

    /// Limits starting at `values`.
    public init(_ values: Values = Values()) {
        self.values = Mutex(values)
    }

    /// The values in force now.
    public var current: Values { self.values.withLock { $0 } }

    /// The values in force now and the generation they belong to, read together.
    public var snapshot: (values: Values, generation: UInt64) {
        self.values.withLock { ($0, self.changes.load(ordering: .acquiring)) }
    }

    /// Moves on each `replace` that changes a value: a reader that saw the same generation has the current values.
    public var generation: UInt64 { self.changes.load(ordering: .acquiring) }

    /// Puts `values` in force; returns whether anything changed.
    @discardableResult
    public func replace(_ values: Values) -> Bool {
        self.values.withLock { current in
            guard current != values else { return false }
            current = values
            self.changes.add(1, ordering: .releasing)
            return true
        }
    }
}

public import SwitchboardAdapterKit
public import SwitchboardCore

/// Everything `switchboard serve` reads from its TOML file.
///
/// Keys and defaults: `default_app` (none); `[server] host = "127.0.0.1"`, `port = 8080`, `trusted_proxies = []`, `blocked_addresses = []`;
/// `[engine] kind = "memory"`, `command_timeout_ms = 2000`; `[store] path = "data/switchboard.sqlite"`; `[admin] token` (or env
/// `SWITCHBOARD_ADMIN_TOKEN`); `[limits] max_queued_frames = 4096`, `sse_keepalive_seconds = 15`, `compression_min_bytes = 256`;
/// `[plans.NAME]` overrides; `[[apps]]` with their `[[apps.channels]]` rules; `[proxy] upstream`, `connect_timeout_ms = 5000`,
/// `read_timeout_ms = 30000`.
public struct SwitchboardConfig: Sendable {
    /// `[server]`: where the HTTP listener binds.
    public struct Server: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// `trusted_proxies = []`: CIDR ranges of the proxies whose `X-Forwarded-For`/`Forwarded` name the client
        /// (for rate limits, admin lockouts, security events and the proxy's own `X-Forwarded-For`); empty trusts none.
        public var trustedProxies = TrustedProxies()
        /// `blocked_addresses = []`: addresses and CIDR ranges the edge serves nothing: their sockets are closed unread,
        /// and a trusted proxy's requests for them are refused (403).
        public var blockedAddresses = AddressRanges()
        /// `sdk_dir`: a folder to serve at `/sdk/` instead of the JavaScript SDK packages embedded in the binary.
        public var sdkDir: String?
    }

    /// `[engine]`: which engine carries the bus.
    /// `kind = "memory"` (default) or `"redis"`; `url = "redis://127.0.0.1:6379/0"` (the default for redis);
    /// `prefix = "switchboard"`: the Redis key prefix, so several clusters can share one Redis.
    public struct Engine: Sendable {
        public var kind = "memory"
        public var url: String?
        public var prefix = "switchboard"
        /// `tls_ca_file`: PEM of the authorities that sign Redis's certificate (`rediss://`); default the system's.
        public var tlsCAFile: String?
        /// `command_timeout_ms = 2000`: how long a Redis command may wait for its reply before it fails (a 503 to the
        /// caller) and health reports degraded.
        public var commandTimeoutMilliseconds = 2_000
    }

    /// `[store]`: the SQLite file (`:memory:` keeps nothing on disk); `master_key` (or env `SWITCHBOARD_MASTER_KEY`,
    /// which wins) seals app secrets, else `master.key` beside the file; `security_event_retention = "7d"`,
    /// `security_event_max_rows = 100000`; `durable_history = true`, `history_flush_ms = 50` (memory engine only).
    public struct Store: Sendable {
        public var path = "data/switchboard.sqlite"
        public var masterKey: String?
        public var securityEventRetentionMilliseconds: Int64 = 7 * 86_400_000
        public var securityEventMaxRows = 100_000
        /// `durable_history = true`: with the memory engine, channel history is saved here and reloaded at start.
        public var durableHistory = true
        /// `history_flush_ms = 50`: how often saved history is written (a crash loses at most this much).
        public var historyFlushMilliseconds = 50
    }

    /// `[admin]`: the bearer token of the admin API.
    public struct Admin: Sendable, Equatable {
        public var token: String?
        /// `auth_failures_per_minute = 10`: wrong admin tokens one client IP may send before it is locked out for a minute.
        public var authFailuresPerMinute = 10
        /// `public_metrics = false`: whether `GET /metrics` answers without the admin token.
        public var publicMetrics = false
    }

    /// `[limits]`: edge-wide limits that are not per plan.
    public struct Limits: Sendable {
        /// Frames queued per connection before it is closed as too slow.
        public var maxQueuedFrames = 4096
        /// Seconds between SSE keepalive comments.
        public var sseKeepaliveSeconds = 15
        /// Seconds a server-side presence join lasts without a heartbeat.
        public var presenceTimeoutSeconds = 30
        /// `compression_min_bytes = 256`: WebSocket messages shorter than this go out uncompressed even with permessage-deflate.
        public var compressionMinBytes = 256
        /// `write_batch_ms = 0`: the least time between two batches of WebSocket writes on one event loop; above zero,
        /// the messages of one interval leave in one write per connection (less CPU under load, that much more latency).
        public var writeBatchMilliseconds = 0
        /// `publish_lag_ms = 20`: a publish is answered only once the WebSocket writes lag less than this behind (for
        /// one second at most), so a publisher faster than the fan-out is slowed instead of every latency growing (0 = off).
        public var publishLagMilliseconds = 20
        /// `max_history_mb = 256`: what every channel's kept messages may hold together in the memory engine (and so in
        /// durable history) or in Redis; past it the channels holding the most give up their oldest messages first.
        public var maxHistoryMegabytes = 256
        /// `max_connections_per_ip = 1000`: open WebSocket connections and SSE streams one client address may hold,
        /// loopback peers excepted; past it a new one is refused as `rate_limited` (0 = unlimited).
        public var maxConnectionsPerIP = 1000
        /// `max_sockets_per_ip = 1200`: open TCP connections of every kind (plain or TLS, HTTP/1.1, h2, WebSocket, SSE)
        /// one peer address may hold, counted at accept before a byte is read; past it a new one is closed at once as
        /// `rate_limited`. Above `max_connections_per_ip`, so an address at that limit still gets each protocol's own
        /// refusal (0 = unlimited).
        public var maxSocketsPerIP = 1200
        /// `uncounted_addresses = ["127.0.0.0/8", "::1/128"]`: addresses neither per-address count includes (new connections).
        public var uncountedAddresses = AddressRanges.loopback
        /// New connections one client IP may open per second (`new_connections_per_ip_per_second`; 0 = unlimited).
        public var newConnectionsPerIPPerSecond = 50
        /// `security_events_per_ip_per_second = 20`: security events kept per client address per second (bursts of 50; a
        /// connection gets a quarter, the whole edge 50 times as many); the rest are dropped and counted (0 = keep all).
        public var securityEventsPerIPPerSecond = 20
        /// `auto_block_refusals = 0`: refusals of one client address (an IPv6 client's /64) within
        /// `auto_block_window_seconds = 60` that block it, as the admin API would, for `auto_block_seconds = 600`; the
        /// uncounted addresses and trusted proxies are never blocked this way (0 = off).
        public var autoBlockRefusals = 0
        public var autoBlockWindowSeconds = 60
        public var autoBlockSeconds = 600
        /// `auto_block_kinds`: the security event kinds that count, by default every kind but `app_disabled`,
        /// `over_quota` and `address_blocked` (which may not be listed).
        public var autoBlockKinds = SecurityEvent.Kind.clientCaused
        /// What each client connection may spend: `commands_per_second`, `command_burst`, `client_publishes_per_second`,
        /// `presence_updates_per_second`, `max_presence_metadata_bytes`, `max_refusals`, `max_queued_bytes`,
        /// `token_expiry_grace_seconds` (see `ClientLimits`).
        public var client = ClientLimits()
    }

    /// `[proxy]`: where requests no route claims go when their app has no `upstream`, and the proxy's timeouts.
    public struct Proxy: Sendable {
        /// `upstream = "http://127.0.0.1:3000"`; nil keeps the 404.
        public var upstream: String?
        /// `connect_timeout_ms = 5000`.
        public var connectTimeoutMilliseconds = 5_000
        /// `read_timeout_ms = 30000`: the longest wait for upstream bytes (a 504 before the answer starts).
        public var readTimeoutMilliseconds = 30_000
    }

    public var defaultApp: String?
    public var server = Server()
    public var engine = Engine()
    public var store = Store()
    public var admin = Admin()
    public var limits = Limits()
    public var proxy = Proxy()
    public var plans: [String: Plan] = Plan.builtIn
    public var apps: [App] = []
    /// `[[listeners]]`: more listeners (TLS with h2 + http/1.1, or plain), served besides `[server]`.
    public var listeners: [ListenerConfig] = []
    /// `workspace_plan`: the plan `/api/workspaces/current` names; default the default app's plan, else `free`.
    public var workspacePlan: String?
    /// Where this config was read from (`ConfigLoader.load`, `serveConfiguration`), for SIGHUP; nil when built in code.
    public var source: ConfigSource?
    /// `[[alerts]]`: alert rules (name, kind, threshold, url, secret, event, app, window_seconds; see `AlertRule`).
    var alerts: [AlertRule] = []

    /// An empty configuration with the defaults above.
    public init() {}
}

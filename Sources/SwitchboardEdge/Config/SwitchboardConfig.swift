public import SwitchboardCore

/// Everything `switchboard serve` reads from its TOML file.
///
/// Keys and defaults: `default_app` (none); `[server] host = "127.0.0.1"`, `port = 8080`;
/// `[engine] kind = "memory"`; `[store] path = "data/switchboard.sqlite"`; `[admin] token` (or env
/// `SWITCHBOARD_ADMIN_TOKEN`); `[limits] max_queued_frames = 4096`, `sse_keepalive_seconds = 15`;
/// `[plans.NAME]` overrides; `[[apps]]` with their `[[apps.channels]]` rules.
public struct SwitchboardConfig: Sendable {
    /// `[server]`: where the HTTP listener binds.
    public struct Server: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
    }

    /// `[engine]`: which engine carries the bus.
    /// `kind = "memory"` (default) or `"redis"`; `url = "redis://127.0.0.1:6379/0"` (the default for redis);
    /// `prefix = "switchboard"`: the Redis key prefix, so several clusters can share one Redis.
    public struct Engine: Sendable {
        public var kind = "memory"
        public var url: String?
        public var prefix = "switchboard"
    }

    /// `[store]`: the SQLite file (`:memory:` keeps nothing on disk).
    public struct Store: Sendable {
        public var path = "data/switchboard.sqlite"
    }

    /// `[admin]`: the bearer token of the admin API.
    public struct Admin: Sendable {
        public var token: String?
    }

    /// `[limits]`: edge-wide limits that are not per plan.
    public struct Limits: Sendable {
        /// Frames queued per connection before it is closed as too slow.
        public var maxQueuedFrames = 4096
        /// Seconds between SSE keepalive comments.
        public var sseKeepaliveSeconds = 15
        /// Seconds a server-side presence join lasts without a heartbeat.
        public var presenceTimeoutSeconds = 30
    }

    public var defaultApp: String?
    public var server = Server()
    public var engine = Engine()
    public var store = Store()
    public var admin = Admin()
    public var limits = Limits()
    public var plans: [String: Plan] = Plan.builtIn
    public var apps: [App] = []

    /// An empty configuration with the defaults above.
    public init() {}
}

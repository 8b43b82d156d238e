import Foundation
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardRedis
import TOMLKit

/// A configuration problem, naming the key: `apps[0].secret: is required`.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The dotted key, e.g. `server.port` or `apps[1].origins[0]`.
    public var key: String
    /// What is wrong with it.
    public var problem: String

    public var description: String { self.key.isEmpty ? self.problem : "\(self.key): \(self.problem)" }
}

/// Reads and validates a TOML configuration; every problem names its key.
public enum ConfigLoader {
    /// Loads the file at `path`, with `SWITCHBOARD_<SECTION>_<KEY>` variables of `environment` over it (ConfigLoader+environment.swift).
    public static func load(path: String, environment: [String: String] = [:]) throws(ConfigError) -> SwitchboardConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(key: "", problem: "cannot read config file \(path)")
        }
        var config = try self.parse(text, environment: environment)
        config.source = ConfigSource(path: path, environment: environment)
        return config
    }

    /// Parses TOML text, with `SWITCHBOARD_<SECTION>_<KEY>` variables of `environment` over it.
    public static func parse(_ text: String, environment: [String: String] = [:]) throws(ConfigError) -> SwitchboardConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(key: "", problem: "TOML syntax error at line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ConfigError(key: "", problem: "TOML syntax error: \(error)")
        }
        var config = SwitchboardConfig()
        let top = Reader(table: root, path: "", overlay: EnvironmentOverlay(environment))
        try top.onlyKeys([
            "default_app", "server", "engine", "store", "admin", "limits", "plans", "apps", "listeners", "proxy", "workspace_plan", "alerts",
        ])
        config.defaultApp = try top.string("default_app")

        if let server = try top.table("server") {
            try server.onlyKeys(["host", "port", "trusted_proxies", "blocked_addresses", "sdk_dir"])
            config.server.host = try server.string("host") ?? config.server.host
            config.server.sdkDir = try server.string("sdk_dir")
            config.server.port = try server.int("port", in: 0...65535) ?? config.server.port
            if let ranges = try Self.addressRanges(server, "trusted_proxies") {
                config.server.trustedProxies = TrustedProxies(ranges)
            }
            config.server.blockedAddresses = try Self.addressRanges(server, "blocked_addresses") ?? config.server.blockedAddresses
        }
        if let engine = try top.table("engine") {
            try engine.onlyKeys(["kind", "url", "prefix", "tls_ca_file", "command_timeout_ms"])
            config.engine.tlsCAFile = try engine.string("tls_ca_file")
            config.engine.commandTimeoutMilliseconds =
                try engine.int("command_timeout_ms", in: 1...600_000) ?? config.engine.commandTimeoutMilliseconds
            let kind = try engine.string("kind") ?? "memory"
            guard kind == "memory" || kind == "redis" else {
                throw ConfigError(key: engine.key("kind"), problem: "unknown engine \"\(kind)\" (this build has: memory, redis)")
            }
            config.engine.kind = kind
            config.engine.url = try engine.string("url")
            if let url = config.engine.url {
                do {
                    _ = try RedisURL(parsing: url)
                } catch {
                    throw ConfigError(key: engine.key("url"), problem: error.message)
                }
            }
            if let prefix = try engine.string("prefix") {
                guard !prefix.isEmpty, !prefix.contains(where: { $0.isWhitespace }) else {
                    throw ConfigError(key: engine.key("prefix"), problem: "must be a non-empty word (no spaces)")
                }
                config.engine.prefix = prefix
            }
        }
        if let store = try top.table("store") {
            try store.onlyKeys([
                "path", "master_key", "security_event_retention", "security_event_max_rows", "durable_history", "history_flush_ms",
            ])
            config.store.path = try store.string("path") ?? config.store.path
            config.store.masterKey = try store.string("master_key")
            if let text = try store.string("security_event_retention") {
                guard let parsed = Duration.parseConfig(text) else {
                    throw ConfigError(key: store.key("security_event_retention"), problem: "\"\(text)\" is not a duration like 24h or 7d")
                }
                config.store.securityEventRetentionMilliseconds = parsed
            }
            config.store.securityEventMaxRows = try store.int("security_event_max_rows", in: 1...100_000_000) ?? config.store.securityEventMaxRows
            config.store.durableHistory = try store.bool("durable_history") ?? config.store.durableHistory
            config.store.historyFlushMilliseconds = try store.int("history_flush_ms", in: 1...60_000) ?? config.store.historyFlushMilliseconds
        }
        if let admin = try top.table("admin") {
            try admin.onlyKeys(["token", "public_metrics", "auth_failures_per_minute"])
            config.admin.token = try admin.string("token")
            config.admin.authFailuresPerMinute = try admin.int("auth_failures_per_minute", in: 1...100_000) ?? config.admin.authFailuresPerMinute
            config.admin.publicMetrics = try admin.bool("public_metrics") ?? config.admin.publicMetrics
        }
        if let limits = try top.table("limits") {
            let limitKeys = [
                "max_queued_frames", "sse_keepalive_seconds", "presence_timeout_seconds", "new_connections_per_ip_per_second",
                "compression_min_bytes", "write_batch_ms", "security_events_per_ip_per_second", "publish_lag_ms", "max_history_mb",
                "max_connections_per_ip", "max_sockets_per_ip", "uncounted_addresses", "auto_block_refusals",
                "auto_block_window_seconds", "auto_block_seconds", "auto_block_kinds",
            ]
            try limits.onlyKeys(Set(limitKeys + Self.clientLimitKeys))
            config.limits.securityEventsPerIPPerSecond =
                try limits.int("security_events_per_ip_per_second", in: 0...1_000_000) ?? config.limits.securityEventsPerIPPerSecond
            config.limits.newConnectionsPerIPPerSecond =
                try limits.int("new_connections_per_ip_per_second", in: 0...1_000_000) ?? config.limits.newConnectionsPerIPPerSecond
            config.limits.maxQueuedFrames = try limits.int("max_queued_frames", in: 16...1_000_000) ?? config.limits.maxQueuedFrames
            config.limits.sseKeepaliveSeconds = try limits.int("sse_keepalive_seconds", in: 1...3600) ?? config.limits.sseKeepaliveSeconds
            config.limits.presenceTimeoutSeconds =
                try limits.int("presence_timeout_seconds", in: 1...3600) ?? config.limits.presenceTimeoutSeconds
            config.limits.compressionMinBytes = try limits.int("compression_min_bytes", in: 1...16_777_216) ?? config.limits.compressionMinBytes
            config.limits.writeBatchMilliseconds = try limits.int("write_batch_ms", in: 0...100) ?? config.limits.writeBatchMilliseconds
            config.limits.publishLagMilliseconds = try limits.int("publish_lag_ms", in: 0...10_000) ?? config.limits.publishLagMilliseconds
            config.limits.maxHistoryMegabytes = try limits.int("max_history_mb", in: 1...1_048_576) ?? config.limits.maxHistoryMegabytes
            config.limits.maxConnectionsPerIP = try limits.int("max_connections_per_ip", in: 0...1_000_000) ?? config.limits.maxConnectionsPerIP
            config.limits.maxSocketsPerIP = try limits.int("max_sockets_per_ip", in: 0...1_000_000) ?? config.limits.maxSocketsPerIP
            config.limits.uncountedAddresses = try Self.addressRanges(limits, "uncounted_addresses") ?? config.limits.uncountedAddresses
            config.limits.autoBlockRefusals = try limits.int("auto_block_refusals", in: 0...1_000_000) ?? config.limits.autoBlockRefusals
            config.limits.autoBlockWindowSeconds =
                try limits.int("auto_block_window_seconds", in: 1...86_400) ?? config.limits.autoBlockWindowSeconds
            config.limits.autoBlockSeconds =
                try limits.int("auto_block_seconds", in: 1...Int(AddressBlocks.maxLifetimeSeconds)) ?? config.limits.autoBlockSeconds
            config.limits.autoBlockKinds = try Self.autoBlockKinds(limits) ?? config.limits.autoBlockKinds
            try Self.readClientLimits(limits, into: &config.limits.client)
        }
        if let proxy = try top.table("proxy") {
            try proxy.onlyKeys(["upstream", "connect_timeout_ms", "read_timeout_ms"])
            config.proxy.upstream = try self.upstream(proxy, "upstream")
            config.proxy.connectTimeoutMilliseconds = try proxy.int("connect_timeout_ms", in: 1...600_000) ?? config.proxy.connectTimeoutMilliseconds
            config.proxy.readTimeoutMilliseconds = try proxy.int("read_timeout_ms", in: 1...3_600_000) ?? config.proxy.readTimeoutMilliseconds
        }
        if let plans = try top.table("plans") {
            for name in plans.table.keys {
                guard let plan = try plans.table(name) else { continue }
                config.plans[name] = try self.plan(plan, name: name, base: config.plans[name])
            }
        }
        if let apps = try top.tables("apps") {
            for (index, app) in apps.enumerated() {
                config.apps.append(try self.app(app, plans: config.plans))
                let id = config.apps[index].id
                if config.apps[..<index].contains(where: { $0.id == id }) {
                    throw ConfigError(key: app.key("id"), problem: "duplicate app id \"\(id)\"")
                }
                let key = config.apps[index].key
                if config.apps[..<index].contains(where: { $0.key == key }) {
                    throw ConfigError(key: app.key("key"), problem: "duplicate app key \"\(key)\"")
                }
            }
        }
        try self.environmentApp(environment, into: &config)
        config.workspacePlan = try self.workspacePlan(top, plans: config.plans)
        config.alerts = try self.alerts(top)
        if let listeners = try top.tables("listeners") {
            for listener in listeners { config.listeners.append(try self.listener(listener)) }
        }
        if let defaultApp = config.defaultApp, !config.apps.contains(where: { $0.id == defaultApp }) {
            throw ConfigError(key: top.key("default_app"), problem: "no app has id \"\(defaultApp)\"")
        }
        return config
    }

    static func plan(_ table: Reader, name: String, base: Plan?) throws(ConfigError) -> Plan {
        try table.onlyKeys([
            "max_connections", "max_channels", "max_message_bytes", "publishes_per_minute", "history_size", "max_subscriptions_per_connection",
            "monthly_messages", "price_monthly", "currency",
        ])
        var plan =
            base ?? Plan(name: name, maxConnections: nil, maxChannels: nil, maxMessageBytes: 64 * 1024, publishesPerMinute: nil, historySize: 100)
        plan.name = name
        // 0 means unlimited for the counted limits.
        func limit(_ key: String) throws(ConfigError) -> Int?? {
            guard let value = try table.int(key, in: 0...Int.max) else { return .none }
            return .some(value == 0 ? nil : value)
        }
        if let value = try limit("max_connections") { plan.maxConnections = value }
        if let value = try limit("max_channels") { plan.maxChannels = value }
        if let value = try limit("publishes_per_minute") { plan.publishesPerMinute = value }
        if let value = try limit("max_subscriptions_per_connection") { plan.maxSubscriptionsPerConnection = value }
        if let value = try limit("monthly_messages") { plan.monthlyMessages = value }
        try self.pricing(table, into: &plan)
        plan.maxMessageBytes = try table.int("max_message_bytes", in: 1...(16 * 1024 * 1024)) ?? plan.maxMessageBytes
        plan.historySize = try table.int("history_size", in: 0...100_000) ?? plan.historySize
        return plan
    }

    static func app(_ table: Reader, plans: [String: Plan]) throws(ConfigError) -> App {
        try table.onlyKeys([
            "id", "key", "secret", "secrets", "origins", "hosts", "plan", "environment", "region", "enabled", "client_events", "upstream",
            "channels", "webhooks", "subscription_count", "max_presence_members", "activity_timeout", "client_event_rate", "allow_anonymous",
            "websocket_compression",
        ])
        guard let id = try table.string("id"), !id.isEmpty else { throw ConfigError(key: table.key("id"), problem: "is required") }
        guard let key = try table.string("key"), !key.isEmpty else { throw ConfigError(key: table.key("key"), problem: "is required") }
        var secrets = try table.strings("secrets") ?? []
        if let secret = try table.string("secret") { secrets.insert(secret, at: 0) }
        guard !secrets.isEmpty, secrets.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigError(key: table.key("secret"), problem: "is required")
        }
        let planName = try table.string("plan") ?? "free"
        guard let plan = plans[planName] else {
            throw ConfigError(key: table.key("plan"), problem: "unknown plan \"\(planName)\" (known: \(plans.keys.sorted().joined(separator: ", ")))")
        }
        let origins = try table.strings("origins") ?? []
        for (index, origin) in origins.enumerated() where origin.isEmpty || origin.contains(" ") || origin.hasSuffix("/") {
            throw ConfigError(key: table.key("origins[\(index)]"), problem: "\"\(origin)\" is not an origin like https://app.example.com")
        }
        var rules: [ChannelRule] = []
        if let channels = try table.tables("channels") {
            for rule in channels { rules.append(try self.rule(rule)) }
        }
        var app = App(
            id: id,
            key: key,
            secrets: secrets,
            origins: origins,
            hosts: try table.strings("hosts") ?? [],
            plan: plan,
            environment: try table.string("environment") ?? "development",
            region: try table.string("region") ?? "local",
            enabled: try table.bool("enabled") ?? true,
            clientEvents: try table.bool("client_events") ?? true,
            channelRules: rules,
            upstream: try self.upstream(table, "upstream")
        )
        if let webhooks = try table.table("webhooks") { app.webhooks = try self.webhooks(webhooks) }
        app.subscriptionCount = try table.bool("subscription_count") ?? app.subscriptionCount
        app.maxPresenceMembers = try table.int("max_presence_members", in: 1...100_000) ?? app.maxPresenceMembers
        app.activityTimeoutSeconds = try table.int("activity_timeout", in: 1...3600) ?? app.activityTimeoutSeconds
        app.clientEventsPerSecond = try table.int("client_event_rate", in: 1...10_000) ?? app.clientEventsPerSecond
        app.allowAnonymous = try table.bool("allow_anonymous") ?? app.allowAnonymous
        app.websocketCompression = try table.bool("websocket_compression") ?? app.websocketCompression
        return app
    }

    /// A list of addresses and CIDR ranges (`trusted_proxies`, `blocked_addresses`, `uncounted_addresses`); a bad entry is
    /// named by its index.
    static func addressRanges(_ table: Reader, _ name: String) throws(ConfigError) -> AddressRanges? {
        guard let entries = try table.strings(name) else { return nil }
        do {
            return try AddressRanges(entries)
        } catch {
            throw ConfigError(
                key: table.key("\(name)[\(error.index)]"),
                problem: "\"\(error.text)\" is not an address or CIDR range like 10.0.0.0/8 or fd00::/8"
            )
        }
    }

    /// `auto_block_kinds`: security event kinds by name; `address_blocked` may not count (it would only prolong a block).
    static func autoBlockKinds(_ table: Reader) throws(ConfigError) -> Set<SecurityEvent.Kind>? {
        guard let names = try table.strings("auto_block_kinds") else { return nil }
        var kinds = Set<SecurityEvent.Kind>()
        for (index, name) in names.enumerated() {
            guard let kind = SecurityEvent.Kind(name: name), kind != .addressBlocked else {
                let known = SecurityEvent.Kind.all.filter { $0 != .addressBlocked }.map(\.name).joined(separator: ", ")
                throw ConfigError(key: table.key("auto_block_kinds[\(index)]"), problem: "\"\(name)\" is not one of \(known)")
            }
            kinds.insert(kind)
        }
        return kinds
    }

    /// An upstream URL: `http://` or `https://`, host and optional path prefix (no user info, query or fragment).
    static func upstream(_ table: Reader, _ name: String) throws(ConfigError) -> String? {
        guard let url = try table.string(name) else { return nil }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil, ProxyUpstream(url) != nil else {
            throw ConfigError(key: table.key(name), problem: "\"\(url)\" is not an http:// or https:// URL")
        }
        return url
    }

    /// `[apps.webhooks]`: `url` (http or https, required) and `events` (known kinds; default all but subscription_count).
    static func webhooks(_ table: Reader) throws(ConfigError) -> WebhookSettings {
        try table.onlyKeys(["url", "events"])
        guard let url = try table.string("url"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ConfigError(key: table.key("url"), problem: "is required: an http:// or https:// URL")
        }
        let events = try table.strings("events") ?? WebhookSettings.defaultEvents
        for (index, event) in events.enumerated() where !WebhookSettings.knownEvents.contains(event) {
            let known = WebhookSettings.knownEvents.joined(separator: ", ")
            throw ConfigError(
                key: table.key("events[\(index)]"),
                problem: "unknown webhook event \"\(event)\" (known: \(known))"
            )
        }
        return WebhookSettings(url: url, events: events)
    }

    static func rule(_ table: Reader) throws(ConfigError) -> ChannelRule {
        try table.onlyKeys(
            Set([
                "match", "history_size", "history_ttl", "client_publish", "presence", "require_token", "force_recovery", "join_leave",
            ]).union(Self.kitKeys)
        )
        guard let match = try table.string("match"), !match.isEmpty else { throw ConfigError(key: table.key("match"), problem: "is required") }
        var ttl: Int64?
        if let text = try table.string("history_ttl") {
            guard let parsed = Duration.parseConfig(text) else {
                throw ConfigError(key: table.key("history_ttl"), problem: "\"\(text)\" is not a duration like 90s, 10m, 24h or 7d")
            }
            ttl = parsed
        }
        var rule = ChannelRule(
            match: match,
            historySize: try table.int("history_size", in: 0...100_000),
            historyTTLMilliseconds: ttl,
            clientPublish: try table.bool("client_publish"),
            presence: try table.bool("presence"),
            requireToken: try table.bool("require_token")
        )
        rule.forceRecovery = try table.bool("force_recovery")
        rule.joinLeave = try table.bool("join_leave")
        rule.kit = try self.kitRule(table)
        return rule
    }

    /// A table being read, with its dotted path for error messages.
    struct Reader {
        let table: TOMLTable
        let path: String
        /// `SWITCHBOARD_<SECTION>_<KEY>` values, read instead of the table's (ConfigLoader+environment.swift).
        var overlay = EnvironmentOverlay()

        /// The key's name in error messages: its variable when the environment sets it, else the dotted key. An item of a
        /// list a variable gave is named by the variable and its position (`SWITCHBOARD_SERVER_TRUSTED_PROXIES[1]`).
        func key(_ name: String) -> String {
            if let variable = self.overlay.variable(for: self.dotted(name)) { return variable }
            if let bracket = name.firstIndex(of: "["), let variable = self.overlay.variable(for: self.dotted(String(name[..<bracket]))) {
                return variable + name[bracket...]
            }
            return self.dotted(name)
        }

        func dotted(_ name: String) -> String { self.path.isEmpty ? name : "\(self.path).\(name)" }

        func onlyKeys(_ allowed: Set<String>) throws(ConfigError) {
            for name in self.table.keys where !allowed.contains(name) {
                throw ConfigError(key: self.key(name), problem: "unknown key")
            }
            for (name, variable) in self.overlay.keys(in: self.path) where !allowed.contains(name) {
                throw ConfigError(key: variable, problem: "unknown key")
            }
        }

        func string(_ name: String) throws(ConfigError) -> String? {
            if let entry = self.overlay[self.dotted(name)] { return entry.text }
            guard let value = self.table[name] else { return nil }
            guard let string = value.string else { throw ConfigError(key: self.key(name), problem: "must be a string") }
            return string
        }

        func int(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
            if let entry = self.overlay[self.dotted(name)] { return try entry.int(in: range) }
            guard let value = self.table[name] else { return nil }
            guard let int = value.int else { throw ConfigError(key: self.key(name), problem: "must be an integer") }
            guard range.contains(int) else {
                throw ConfigError(key: self.key(name), problem: "must be between \(range.lowerBound) and \(range.upperBound)")
            }
            return int
        }

        func bool(_ name: String) throws(ConfigError) -> Bool? {
            if let entry = self.overlay[self.dotted(name)] { return try entry.bool() }
            guard let value = self.table[name] else { return nil }
            guard let bool = value.bool else { throw ConfigError(key: self.key(name), problem: "must be true or false") }
            return bool
        }

        func strings(_ name: String) throws(ConfigError) -> [String]? {
            if let entry = self.overlay[self.dotted(name)] { return entry.list }
            guard let value = self.table[name] else { return nil }
            guard let array = value.array else { throw ConfigError(key: self.key(name), problem: "must be an array of strings") }
            var result: [String] = []
            for (index, element) in array.enumerated() {
                guard let string = element.string else {
                    throw ConfigError(key: self.key("\(name)[\(index)]"), problem: "must be a string")
                }
                result.append(string)
            }
            return result
        }

        func table(_ name: String) throws(ConfigError) -> Reader? {
            if let entry = self.overlay[self.dotted(name)] { throw ConfigError(key: entry.variable, problem: "must be a table") }
            guard let value = self.table[name] else {
                // A section the file leaves out is still read when the environment sets one of its keys.
                guard self.overlay.hasKeys(in: self.dotted(name)) else { return nil }
                return Reader(table: TOMLTable(), path: self.dotted(name), overlay: self.overlay)
            }
            guard let table = value.table else { throw ConfigError(key: self.key(name), problem: "must be a table") }
            return Reader(table: table, path: self.dotted(name), overlay: self.overlay)
        }

        func tables(_ name: String) throws(ConfigError) -> [Reader]? {
            guard let value = self.table[name] else { return nil }
            guard let array = value.array else { throw ConfigError(key: self.key(name), problem: "must be an array of tables ([[\(name)]])") }
            var result: [Reader] = []
            for (index, element) in array.enumerated() {
                guard let table = element.table else { throw ConfigError(key: self.key("\(name)[\(index)]"), problem: "must be a table") }
                result.append(Reader(table: table, path: self.key("\(name)[\(index)]")))
            }
            return result
        }
    }
}

extension Duration {
    /// Milliseconds in a config duration: `500ms`, `90s`, `10m`, `24h`, `7d`.
    static func parseConfig(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)), value > 0 else { return nil }
            return value * factor
        }
        return nil
    }
}

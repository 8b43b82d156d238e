import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct ConfigLoaderEnvironmentTests {
    let file = """
        default_app = "1001"
        [server]
        host = "0.0.0.0"
        port = 9000
        [[apps]]
        id = "1001"
        key = "pk_file"
        secret = "sk_file"
        """

    func problem(_ environment: [String: String], file text: String = "") -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(text, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func sectionVariablesOverrideTheFileAndKeepItsOtherKeys() throws {
        let config = try ConfigLoader.parse(
            self.file,
            environment: [
                "SWITCHBOARD_SERVER_PORT": "9100",
                "SWITCHBOARD_ENGINE_KIND": "redis",
                "SWITCHBOARD_ENGINE_URL": "redis://10.0.0.5:6380/2",
                "SWITCHBOARD_ENGINE_PREFIX": "blue",
                "SWITCHBOARD_STORE_PATH": "/var/lib/switchboard/s.sqlite",
                "SWITCHBOARD_STORE_DURABLE_HISTORY": "false",
                "SWITCHBOARD_STORE_SECURITY_EVENT_RETENTION": "24h",
                "SWITCHBOARD_ADMIN_TOKEN": "from-env",
                "SWITCHBOARD_ADMIN_PUBLIC_METRICS": "TRUE",
                "SWITCHBOARD_LIMITS_MAX_QUEUED_FRAMES": "8192",
                "SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND": "7",
                "SWITCHBOARD_PROXY_UPSTREAM": "http://127.0.0.1:3000",
                "SWITCHBOARD_PROXY_READ_TIMEOUT_MS": "1500",
            ]
        )
        #expect(config.server.host == "0.0.0.0")
        #expect(config.server.port == 9100)
        #expect(config.engine.kind == "redis")
        #expect(config.engine.url == "redis://10.0.0.5:6380/2")
        #expect(config.engine.prefix == "blue")
        #expect(config.store.path == "/var/lib/switchboard/s.sqlite")
        #expect(config.store.durableHistory == false)
        #expect(config.store.securityEventRetentionMilliseconds == 86_400_000)
        #expect(config.admin.token == "from-env")
        #expect(config.admin.publicMetrics)
        #expect(config.limits.maxQueuedFrames == 8192)
        #expect(config.limits.client.commandsPerSecond == 7)
        #expect(config.proxy.upstream == "http://127.0.0.1:3000")
        #expect(config.proxy.readTimeoutMilliseconds == 1500)
        #expect(config.apps.map(\.key) == ["pk_file"])
    }

    /// Every scalar key of the six sections has its variable (the README's environment table lists the same): each
    /// value below differs from the file's and the default, so the configuration must change.
    @Test(arguments: [
        ("SWITCHBOARD_SERVER_HOST", "10.1.2.3"), ("SWITCHBOARD_SERVER_PORT", "1"),
        ("SWITCHBOARD_ENGINE_KIND", "redis"), ("SWITCHBOARD_ENGINE_URL", "redis://10.0.0.1:6379/0"),
        ("SWITCHBOARD_ENGINE_PREFIX", "p"), ("SWITCHBOARD_ENGINE_TLS_CA_FILE", "/etc/ssl/ca.pem"),
        ("SWITCHBOARD_STORE_PATH", ":memory:"), ("SWITCHBOARD_STORE_MASTER_KEY", "k"),
        ("SWITCHBOARD_STORE_SECURITY_EVENT_RETENTION", "1d"), ("SWITCHBOARD_STORE_SECURITY_EVENT_MAX_ROWS", "10"),
        ("SWITCHBOARD_STORE_DURABLE_HISTORY", "false"), ("SWITCHBOARD_STORE_HISTORY_FLUSH_MS", "20"),
        ("SWITCHBOARD_ADMIN_TOKEN", "t"), ("SWITCHBOARD_ADMIN_AUTH_FAILURES_PER_MINUTE", "3"), ("SWITCHBOARD_ADMIN_PUBLIC_METRICS", "true"),
        ("SWITCHBOARD_LIMITS_MAX_QUEUED_FRAMES", "16"), ("SWITCHBOARD_LIMITS_SSE_KEEPALIVE_SECONDS", "5"),
        ("SWITCHBOARD_LIMITS_PRESENCE_TIMEOUT_SECONDS", "5"), ("SWITCHBOARD_LIMITS_NEW_CONNECTIONS_PER_IP_PER_SECOND", "0"),
        ("SWITCHBOARD_LIMITS_COMPRESSION_MIN_BYTES", "64"), ("SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND", "1"),
        ("SWITCHBOARD_LIMITS_COMMAND_BURST", "1"), ("SWITCHBOARD_LIMITS_CLIENT_PUBLISHES_PER_SECOND", "1"),
        ("SWITCHBOARD_LIMITS_PRESENCE_UPDATES_PER_SECOND", "1"), ("SWITCHBOARD_LIMITS_MAX_PRESENCE_METADATA_BYTES", "2"),
        ("SWITCHBOARD_LIMITS_MAX_REFUSALS", "1"), ("SWITCHBOARD_LIMITS_MAX_QUEUED_BYTES", "65536"),
        ("SWITCHBOARD_PROXY_UPSTREAM", "https://app.example.com/base"), ("SWITCHBOARD_PROXY_CONNECT_TIMEOUT_MS", "1"),
        ("SWITCHBOARD_PROXY_READ_TIMEOUT_MS", "1"),
        // Keys the sections gained later need no change in the overlay: the loader reads every key through it.
        ("SWITCHBOARD_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"), ("SWITCHBOARD_ENGINE_COMMAND_TIMEOUT_MS", "500"),
        ("SWITCHBOARD_LIMITS_SECURITY_EVENTS_PER_IP_PER_SECOND", "5"), ("SWITCHBOARD_LIMITS_MAX_SOCKETS_PER_IP", "3"),
        ("SWITCHBOARD_LIMITS_UNCOUNTED_ADDRESSES", "10.0.0.0/8"),
    ])
    func everyScalarKeyHasAVariable(_ variable: String, _ value: String) throws {
        let base = try ConfigLoader.parse(self.file)
        let changed = try ConfigLoader.parse(self.file, environment: [variable: value])
        #expect(String(describing: changed) != String(describing: base), "\(variable) changed nothing")
    }

    @Test func badValuesGetTheFilesMessagesNamingTheVariable() {
        #expect(self.problem(["SWITCHBOARD_SERVER_PORT": "80a"]) == ConfigError(key: "SWITCHBOARD_SERVER_PORT", problem: "must be an integer"))
        #expect(
            self.problem(["SWITCHBOARD_SERVER_PORT": "70000"])
                == ConfigError(key: "SWITCHBOARD_SERVER_PORT", problem: "must be between 0 and 65535")
        )
        #expect(
            self.problem(["SWITCHBOARD_STORE_DURABLE_HISTORY": "yes"])
                == ConfigError(key: "SWITCHBOARD_STORE_DURABLE_HISTORY", problem: "must be true or false")
        )
        #expect(
            self.problem(["SWITCHBOARD_ENGINE_KIND": "etcd"])
                == ConfigError(key: "SWITCHBOARD_ENGINE_KIND", problem: "unknown engine \"etcd\" (this build has: memory, redis)")
        )
        #expect(
            self.problem(["SWITCHBOARD_PROXY_UPSTREAM": "ftp://x"])
                == ConfigError(key: "SWITCHBOARD_PROXY_UPSTREAM", problem: "\"ftp://x\" is not an http:// or https:// URL")
        )
        #expect(
            self.problem(["SWITCHBOARD_DEFAULT_APP": "9"], file: self.file)
                == ConfigError(key: "SWITCHBOARD_DEFAULT_APP", problem: "no app has id \"9\"")
        )
        // A bad item of a list the variable gave is named by the variable and the item's place in it.
        let proxies = self.problem(["SWITCHBOARD_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, notacidr"])
        #expect(proxies?.key == "SWITCHBOARD_SERVER_TRUSTED_PROXIES[1]")
        let kinds = self.problem(["SWITCHBOARD_LIMITS_AUTO_BLOCK_KINDS": "nonsense"])
        #expect(kinds?.key == "SWITCHBOARD_LIMITS_AUTO_BLOCK_KINDS[0]")
    }

    @Test func aVariableNamingNoKeyOfItsSectionIsRefused() {
        #expect(self.problem(["SWITCHBOARD_SERVER_PROT": "1"]) == ConfigError(key: "SWITCHBOARD_SERVER_PROT", problem: "unknown key"))
        #expect(
            self.problem(["SWITCHBOARD_LIMITS_MAX_FRAMES": "1"], file: self.file)
                == ConfigError(key: "SWITCHBOARD_LIMITS_MAX_FRAMES", problem: "unknown key")
        )
    }

    @Test func otherAndEmptyVariablesAreIgnored() throws {
        let config = try ConfigLoader.parse(
            self.file,
            environment: ["SWITCHBOARD_BIN": "/x", "SWITCHBOARD_MASTER_KEY": "k", "SWITCHBOARD_SERVER_PORT": "", "PATH": "/bin", "SWITCHBOARD_": "x"]
        )
        #expect(config.server.port == 9000)
    }

    @Test func anAppFromTheEnvironmentAloneIsTheDefaultApp() throws {
        let config = try ConfigLoader.parse(
            "",
            environment: [
                "SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk_env", "SWITCHBOARD_APP_SECRET": "sk_env",
                "SWITCHBOARD_APP_PLAN": "pro", "SWITCHBOARD_APP_ORIGINS": "https://a.example.com, https://*.b.example.com",
            ]
        )
        let app = try #require(config.apps.first)
        #expect(config.apps.count == 1)
        #expect(config.defaultApp == "2001")
        #expect(app.id == "2001" && app.key == "pk_env" && app.signingSecret == "sk_env")
        #expect(app.plan.name == "pro")
        #expect(app.origins == ["https://a.example.com", "https://*.b.example.com"])
        // Not a development app: `serve` never prints its secret.
        #expect(app.environment == "production")
    }

    @Test func anAppFromTheEnvironmentReplacesTheFilesAppWithItsIdOrIsAdded() throws {
        let replaced = try ConfigLoader.parse(
            self.file,
            environment: ["SWITCHBOARD_APP_ID": "1001", "SWITCHBOARD_APP_KEY": "pk_env", "SWITCHBOARD_APP_SECRET": "sk_env"]
        )
        #expect(replaced.apps.map(\.key) == ["pk_env"])
        let added = try ConfigLoader.parse(
            self.file,
            environment: ["SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk_env", "SWITCHBOARD_APP_SECRET": "sk_env"]
        )
        #expect(added.apps.map(\.key) == ["pk_file", "pk_env"])
        #expect(added.defaultApp == "1001")
        let chosen = try ConfigLoader.parse(
            self.file,
            environment: [
                "SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk_env", "SWITCHBOARD_APP_SECRET": "sk_env", "SWITCHBOARD_DEFAULT_APP": "2001",
            ]
        )
        #expect(chosen.defaultApp == "2001")
    }

    @Test func anIncompleteOrConflictingAppNamesItsVariable() {
        #expect(
            self.problem(["SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk"])
                == ConfigError(key: "SWITCHBOARD_APP_SECRET", problem: "is required")
        )
        #expect(
            self.problem(["SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk", "SWITCHBOARD_APP_SECRET": "s", "SWITCHBOARD_APP_PLAN": "gold"])
                == ConfigError(key: "SWITCHBOARD_APP_PLAN", problem: "unknown plan \"gold\" (known: builder, enterprise, free, pro)")
        )
        #expect(
            self.problem(["SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk", "SWITCHBOARD_APP_SECRET": "s", "SWITCHBOARD_APP_COLOR": "red"])
                == ConfigError(key: "SWITCHBOARD_APP_COLOR", problem: "unknown key")
        )
        #expect(
            self.problem(["SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk_file", "SWITCHBOARD_APP_SECRET": "s"], file: self.file)
                == ConfigError(key: "SWITCHBOARD_APP_KEY", problem: "duplicate app key \"pk_file\"")
        )
    }

    @Test func serveNeedsNoFileWhenTheEnvironmentNamesAnApp() throws {
        let missing = "/nonexistent/switchboard.toml"
        let environment = ["SWITCHBOARD_APP_ID": "2001", "SWITCHBOARD_APP_KEY": "pk_env", "SWITCHBOARD_APP_SECRET": "sk_env"]
        let config = try ConfigLoader.serveConfiguration(path: nil, environment: environment, fallback: missing)
        #expect(config.apps.map(\.id) == ["2001"])
        // Without an app, or with a file named on the command line, a missing file is still an error.
        #expect(throws: ConfigError.self) { try ConfigLoader.serveConfiguration(path: nil, environment: [:], fallback: missing) }
        #expect(throws: ConfigError.self) { try ConfigLoader.serveConfiguration(path: missing, environment: environment, fallback: missing) }
    }
}

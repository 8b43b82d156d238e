/// Where a running config came from, so SIGHUP can read it again the same way: the file (none when the environment
/// alone defined it) and the `SWITCHBOARD_*` variables laid over it.
public struct ConfigSource: Sendable {
    /// The TOML file; nil when `serve` started from the environment alone.
    public var path: String?
    /// The process environment at start (the variables a process sees do not change while it runs).
    public var environment: [String: String]

    /// Reads the config again: the file with the variables over it, or the variables alone.
    public func load() throws(ConfigError) -> SwitchboardConfig {
        var config: SwitchboardConfig
        if let path = self.path {
            config = try ConfigLoader.load(path: path, environment: self.environment)
        } else {
            config = try ConfigLoader.parse("", environment: self.environment)
        }
        config.source = self
        return config
    }
}

import Foundation
import SwitchboardCore
import TOMLKit

/// Configuration from environment variables, read over the file's values so a container needs no file.
///
/// Every key of `[server]`, `[engine]`, `[store]`, `[admin]`, `[limits]` and `[proxy]` is `SWITCHBOARD_<SECTION>_<KEY>`
/// (`SWITCHBOARD_SERVER_PORT=9000`, `SWITCHBOARD_LIMITS_MAX_QUEUED_FRAMES=8192`), and `default_app` is
/// `SWITCHBOARD_DEFAULT_APP`. The loader reads a variable exactly where it would read the key, with the same type
/// checks and the same messages, naming the variable: `SWITCHBOARD_SERVER_PORT: must be an integer`. Integers are
/// decimal digits, booleans `true` or `false`, arrays of strings comma-separated. An empty variable counts as unset.
/// A variable naming no key of its section is an error, so a typo never passes silently.
struct EnvironmentOverlay: Sendable {
    /// One variable, under the dotted key it sets.
    struct Entry: Sendable {
        /// The variable's name, used in error messages.
        var variable: String
        /// Its value, as given.
        var text: String
    }

    /// The sections whose scalar keys the environment may set.
    static let sections = ["server", "engine", "store", "admin", "limits", "proxy"]
    /// `SWITCHBOARD_APP_<KEY>`: the keys of one `[[apps]]` entry.
    static let appPrefix = "SWITCHBOARD_APP_"

    /// Dotted key (`server.port`) → its variable.
    var entries: [String: Entry] = [:]
    /// The dotted path under which every key is named by its variable even when unset (the app from the environment).
    var environmentOnlyPath: String?

    /// No overlay: the file alone.
    init() {}

    /// The section variables of `environment` (`SWITCHBOARD_APP_*` are read by `ConfigLoader.environmentApp`).
    init(_ environment: [String: String]) {
        for (name, text) in environment where name.hasPrefix("SWITCHBOARD_") && !text.isEmpty {
            let rest = name.dropFirst("SWITCHBOARD_".count)
            if rest == "DEFAULT_APP" {
                self.entries["default_app"] = Entry(variable: name, text: text)
                continue
            }
            for section in Self.sections where rest.hasPrefix(section.uppercased() + "_") {
                let key = rest.dropFirst(section.count + 1).lowercased()
                guard !key.isEmpty else { continue }
                self.entries["\(section).\(key)"] = Entry(variable: name, text: text)
            }
        }
    }

    subscript(dotted: String) -> Entry? { self.entries[dotted] }

    /// The variable that names `dotted` in error messages, if the environment sets it (or the path is environment-only).
    func variable(for dotted: String) -> String? {
        if let entry = self.entries[dotted] { return entry.variable }
        guard let path = self.environmentOnlyPath, dotted.hasPrefix(path + ".") else { return nil }
        return "SWITCHBOARD_" + dotted.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// True when some variable sets a key directly inside the table at `path`.
    func hasKeys(in path: String) -> Bool { !self.keys(in: path).isEmpty }

    /// The key names the environment sets directly inside the table at `path` (the top level when empty).
    func keys(in path: String) -> [(name: String, variable: String)] {
        let prefix = path.isEmpty ? "" : path + "."
        return self.entries.compactMap { dotted, entry in
            guard dotted.hasPrefix(prefix) else { return nil }
            let name = String(dotted.dropFirst(prefix.count))
            return name.contains(".") ? nil : (name, entry.variable)
        }
    }
}

extension EnvironmentOverlay.Entry {
    /// The value as an integer in `range`, with the file's messages.
    func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let int = Int(self.text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigError(key: self.variable, problem: "must be an integer")
        }
        guard range.contains(int) else {
            throw ConfigError(key: self.variable, problem: "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return int
    }

    /// The value as a boolean (`true` or `false`, any case).
    func bool() throws(ConfigError) -> Bool {
        switch self.text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true": return true
        case "false": return false
        default: throw ConfigError(key: self.variable, problem: "must be true or false")
        }
    }

    /// The value as a comma-separated list, each item trimmed; empty items are dropped.
    var list: [String] {
        self.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

extension ConfigLoader {
    /// The file at `path` with `environment` over it; with no path, `fallback` when it exists, else (when the environment
    /// names an app with `SWITCHBOARD_APP_ID`) the environment alone, so a container needs no file.
    public static func serveConfiguration(
        path: String?,
        environment: [String: String],
        fallback: String = "conf/switchboard.toml"
    ) throws(ConfigError) -> SwitchboardConfig {
        if path == nil, !FileManager.default.fileExists(atPath: fallback), environment["SWITCHBOARD_APP_ID"]?.isEmpty == false {
            var config = try self.parse("", environment: environment)
            config.source = ConfigSource(path: nil, environment: environment)
            return config
        }
        return try self.load(path: path ?? fallback, environment: environment)
    }

    /// `SWITCHBOARD_APP_ID`, `_KEY`, `_SECRET` (and any other key of an `[[apps]]` entry: `_PLAN`, `_ORIGINS` comma-separated,
    /// `_ENVIRONMENT`, …) define one app, replacing the file's app with that id or added after the file's apps. It is the
    /// default app unless the file or `SWITCHBOARD_DEFAULT_APP` names one. Its environment defaults to `production`, so
    /// `serve` prints only a preview of its secret.
    static func environmentApp(_ environment: [String: String], into config: inout SwitchboardConfig) throws(ConfigError) {
        var overlay = EnvironmentOverlay()
        overlay.environmentOnlyPath = "app"
        for (name, text) in environment where name.hasPrefix(EnvironmentOverlay.appPrefix) && !text.isEmpty {
            let key = name.dropFirst(EnvironmentOverlay.appPrefix.count).lowercased()
            guard !key.isEmpty else { continue }
            overlay.entries["app.\(key)"] = EnvironmentOverlay.Entry(variable: name, text: text)
        }
        guard !overlay.entries.isEmpty else { return }
        if overlay["app.environment"] == nil {
            overlay.entries["app.environment"] = EnvironmentOverlay.Entry(variable: "SWITCHBOARD_APP_ENVIRONMENT", text: "production")
        }
        let app = try self.app(Reader(table: TOMLTable(), path: "app", overlay: overlay), plans: config.plans)
        if let index = config.apps.firstIndex(where: { $0.id == app.id }) {
            config.apps[index] = app
        } else {
            config.apps.append(app)
        }
        if config.apps.contains(where: { $0.id != app.id && $0.key == app.key }) {
            throw ConfigError(key: "SWITCHBOARD_APP_KEY", problem: "duplicate app key \"\(app.key)\"")
        }
        if config.defaultApp == nil { config.defaultApp = app.id }
    }
}

import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

/// Applies an admin request body to an app's editable fields, checking each; a bad field is 400 naming it.
///
/// Fields: `name`, `plan`, `environment`, `region`, `enabled`, `origins`, `hosts`, `clientEvents` (or
/// `client_events`), `upstream` (null clears it) and `limits` (`maxConnections`, `maxChannels`, `maxMessageBytes`,
/// `publishesPerMinute`, `historySize`: a number overrides the plan, 0 is unlimited for the counted ones, null
/// goes back to the plan). `id`, `key` and `usage` are read-only here and ignored.
struct AppEdit {
    let body: JSONObject
    let plans: [String: Plan]

    static let editable: Set<String> = [
        "name", "plan", "environment", "region", "enabled", "origins", "hosts", "clientEvents", "client_events", "upstream", "limits",
    ]
    static let readOnly: Set<String> = ["id", "key", "usage", "createdAt"]
    static let limitNames = ["maxConnections", "maxChannels", "maxMessageBytes", "publishesPerMinute", "historySize"]

    /// Checks that every member is one the API knows (`extra` names members the caller handles itself).
    func checkMembers(extra: Set<String> = []) throws {
        for name in self.body.keys where !Self.editable.contains(name) && !Self.readOnly.contains(name) && !extra.contains(name) {
            throw AdminError.badRequest("unknown field \(name)")
        }
    }

    func apply(to app: inout StoredApp) throws {
        if let name = try self.string("name") {
            guard !name.isEmpty, name.count <= 200 else { throw AdminError.badRequest("name must be 1 to 200 characters") }
            app.name = name
        }
        if let plan = try self.string("plan") {
            guard self.plans[plan] != nil else {
                throw AdminError.badRequest("unknown plan \(plan) (known: \(self.plans.keys.sorted().joined(separator: ", ")))")
            }
            app.plan = plan
        }
        if let environment = try self.string("environment") { app.environment = environment }
        if let region = try self.string("region") { app.region = region }
        if let enabled = try self.bool("enabled") { app.enabled = enabled }
        if let origins = try self.strings("origins") {
            for origin in origins where !OriginSyntax.isValid(origin) {
                throw AdminError.badRequest("origins: \(origin) is not an origin like https://app.example.com")
            }
            app.origins = Self.unique(origins)
        }
        if let hosts = try self.strings("hosts") {
            for host in hosts where host.isEmpty || host.contains(where: { $0.isWhitespace || $0 == "/" }) {
                throw AdminError.badRequest("hosts: \(host) is not a host name")
            }
            app.hosts = Self.unique(hosts)
        }
        if let clientEvents = try self.bool("clientEvents") ?? self.bool("client_events") { app.clientEvents = clientEvents }
        if self.body.has("upstream") {
            if self.body.isNull("upstream") {
                app.upstream = nil
            } else if let upstream = self.body.string("upstream"), upstream.hasPrefix("http://") || upstream.hasPrefix("https://") {
                app.upstream = upstream
            } else {
                throw AdminError.badRequest("upstream must be an http:// or https:// URL, or null")
            }
        }
        if self.body.has("limits") {
            guard let limits = self.body.object("limits") else { throw AdminError.badRequest("limits must be an object") }
            try Self.apply(limits: limits, to: &app.limits)
        }
    }

    static func apply(limits: JSONObject, to overrides: inout LimitOverrides) throws {
        for name in limits.keys where !Self.limitNames.contains(name) { throw AdminError.badRequest("unknown limit \(name)") }
        func value(_ name: String, minimum: Int) throws -> Int?? {
            guard limits.has(name) else { return .none }
            if limits.isNull(name) { return .some(nil) }
            guard let raw = limits.raw(name), raw.readableBytesView.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let number = limits.integer(name), number >= minimum, number <= 1_000_000_000
            else { throw AdminError.badRequest("limits.\(name) must be a whole number ≥ \(minimum), or null for the plan's") }
            return .some(Int(number))
        }
        if let v = try value("maxConnections", minimum: 0) { overrides.maxConnections = v }
        if let v = try value("maxChannels", minimum: 0) { overrides.maxChannels = v }
        if let v = try value("maxMessageBytes", minimum: 1) { overrides.maxMessageBytes = v }
        if let v = try value("publishesPerMinute", minimum: 0) { overrides.publishesPerMinute = v }
        if let v = try value("historySize", minimum: 0) { overrides.historySize = v }
    }

    func string(_ name: String) throws -> String? {
        guard self.body.has(name) else { return nil }
        guard let value = self.body.string(name) else { throw AdminError.badRequest("\(name) must be a string") }
        return value
    }

    func bool(_ name: String) throws -> Bool? {
        guard self.body.has(name) else { return nil }
        guard let value = self.body.bool(name) else { throw AdminError.badRequest("\(name) must be true or false") }
        return value
    }

    func strings(_ name: String) throws -> [String]? {
        guard self.body.has(name) else { return nil }
        guard let value = self.body.strings(name) else { throw AdminError.badRequest("\(name) must be an array of strings") }
        return value
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}

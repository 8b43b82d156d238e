import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

/// The admin API's object shapes, written once so every route answers alike.
extension JSONWriter {
    /// `{id, key, name, plan, environment, region, enabled, origins, hosts, clientEvents, upstream, limits, usage}`; never a secret.
    mutating func app(_ app: StoredApp, limits: Plan, connections: Int, channels: Int) {
        self.beginObject()
        self.member("id", app.id)
        self.member("key", app.key)
        self.member("name", app.name)
        self.member("plan", app.plan)
        self.member("environment", app.environment)
        self.member("region", app.region)
        self.key("enabled")
        self.bool(app.enabled)
        self.key("origins")
        self.strings(app.origins)
        self.key("hosts")
        self.strings(app.hosts)
        self.key("clientEvents")
        self.bool(app.clientEvents)
        self.optionalMember("upstream", app.upstream)
        self.key("limits")
        self.limits(limits)
        self.key("usage")
        self.beginObject()
        self.member("connections", connections)
        self.member("channels", channels)
        self.endObject()
        self.member("createdAt", app.createdAt)
        self.endObject()
    }

    /// `{maxConnections, maxChannels, maxMessageBytes, publishesPerMinute, historySize, monthlyMessages}`; null is unlimited.
    mutating func limits(_ plan: Plan) {
        self.beginObject()
        self.optionalMember("maxConnections", plan.maxConnections)
        self.optionalMember("maxChannels", plan.maxChannels)
        self.member("maxMessageBytes", plan.maxMessageBytes)
        self.optionalMember("publishesPerMinute", plan.publishesPerMinute)
        self.member("historySize", plan.historySize)
        self.optionalMember("monthlyMessages", plan.monthlyMessages)
        self.endObject()
    }

    /// `{id, preview, createdAt, revokedAt}`.
    mutating func keyRecord(_ key: StoredKey) {
        self.beginObject()
        self.member("id", key.id)
        self.member("preview", key.preview)
        self.member("createdAt", key.createdAt)
        self.optionalMember("revokedAt", key.revokedAt)
        self.endObject()
    }

    mutating func strings(_ values: [String]) {
        self.beginArray()
        for value in values { self.string(value) }
        self.endArray()
    }

    mutating func optionalMember<I: BinaryInteger>(_ name: String, _ value: I?) {
        self.key(name)
        if let value { self.integer(value) } else { self.null() }
    }

    mutating func optionalMember(_ name: String, _ value: String?) {
        self.key(name)
        if let value { self.string(value) } else { self.null() }
    }
}

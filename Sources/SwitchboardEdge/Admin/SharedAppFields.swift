import NIOCore
import SwitchboardAdapterKit
import SwitchboardStore

/// An app's admin-editable fields as one JSON document, so a Redis cluster can carry an admin edit (disable, plan, limits,
/// origins, hosts) to the nodes that did not receive it. The document is an `AppEdit` body, so a receiving node checks it
/// exactly as it checks an admin request. The public key, secrets and keys are not carried: each node keeps its own.
enum SharedAppFields {
    /// `{name, plan, environment, region, enabled, origins, hosts, clientEvents, upstream, limits}` of `app`.
    static func document(_ app: StoredApp) -> String {
        let limits = app.limits
        func limit(_ value: Int?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
        return JSONValue.object([
            "name": .string(app.name),
            "plan": .string(app.plan),
            "environment": .string(app.environment),
            "region": .string(app.region),
            "enabled": .bool(app.enabled),
            "origins": .array(app.origins.map(JSONValue.string)),
            "hosts": .array(app.hosts.map(JSONValue.string)),
            "clientEvents": .bool(app.clientEvents),
            "upstream": app.upstream.map(JSONValue.string) ?? .null,
            "limits": .object([
                "maxConnections": limit(limits.maxConnections),
                "maxChannels": limit(limits.maxChannels),
                "maxMessageBytes": limit(limits.maxMessageBytes),
                "publishesPerMinute": limit(limits.publishesPerMinute),
                "historySize": limit(limits.historySize),
            ]),
        ]).text
    }
}

extension ControlPlane {
    /// Applies another node's admin edit of app `id` (a `SharedAppFields` document) to this node's store and registry;
    /// returns whether anything changed. An app this node does not have is left alone.
    @discardableResult
    func applySharedApp(_ document: String, app id: String) throws -> Bool {
        guard let current = try self.store.app(id: id) else { return false }
        let body: JSONObject
        do {
            body = try JSONObject(parsing: ByteBuffer(string: document))
        } catch {
            throw AdminError.badRequest("the shared app document is not JSON: \(error.message)")
        }
        let edit = AppEdit(body: body, plans: self.plans)
        try edit.checkMembers()
        var edited = current
        try edit.apply(to: &edited)
        guard edited != current else { return false }
        _ = try self.update(id) { try edit.apply(to: &$0) }
        return true
    }
}

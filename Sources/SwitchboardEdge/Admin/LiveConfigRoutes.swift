import Foundation
import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// `GET|PUT|DELETE /api/realtime/apps/{app}/channel-rules` and `…/webhooks`: an app's channel rules and webhooks, changed
/// without a restart. What PUT stores wins over the config file (and survives restarts); DELETE goes back to the config's.
///
/// - `PUT …/channel-rules` `{"rules": [{"match": "chat:*", "client_publish": false, "require_token": true, "presence": true,
///   "history_size": 50, "history_ttl": "10m", "force_recovery": false, "join_leave": true}]}` (first match wins, at most 100).
/// - `PUT …/webhooks` `{"url": "https://…", "events": ["channel_occupied", …]}`; `{"url": null}` sends none.
///
/// Both answer like GET: `{"rules": […], "source": "admin" | "config"}`, `{"webhooks": {url, events} | null, "source", "events"}`.
/// Open connections apply a change from their next subscribe or publish on; with Redis, every node applies it.
struct LiveConfigRoutes: Sendable {
    let controlPlane: ControlPlane
    let authorized: AdminAuthorization
    /// Carries changes to the other nodes (Redis engine only).
    let sync: LiveSettingsSync?

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/apps/:app/channel-rules") { request, context in
            try await self.authorized(request, context) { try self.rules(app: context.parameters.require("app")) }
        }
        router.put("/api/realtime/apps/:app/channel-rules") { request, context in
            try await self.authorized(request, context) {
                let id = try context.parameters.require("app")
                let body = try await Self.body(request, members: ["rules"])
                guard let list = body["rules"] else { throw AdminError.badRequest("rules is required: {\"rules\": [{\"match\": \"chat:*\", …}]}") }
                let rules = try Self.checked { () throws(LiveAppSettings.Invalid) in try LiveAppSettings.rules(list) }
                try await self.change(app: id) { $0.channelRules = rules }
                return try self.rules(app: id)
            }
        }
        router.delete("/api/realtime/apps/:app/channel-rules") { request, context in
            try await self.authorized(request, context) {
                let id = try context.parameters.require("app")
                try await self.change(app: id) { $0.channelRules = nil }
                return try self.rules(app: id)
            }
        }
        router.get("/api/realtime/apps/:app/webhooks") { request, context in
            try await self.authorized(request, context) { try self.webhooks(app: context.parameters.require("app")) }
        }
        router.put("/api/realtime/apps/:app/webhooks") { request, context in
            try await self.authorized(request, context) {
                let id = try context.parameters.require("app")
                let body = try await Self.body(request, members: ["url", "events"])
                let choice: LiveAppSettings.Webhooks
                if body["url"] == nil || body["url"] == .null || body["url"] == .string("") {
                    guard body["events"] == nil else { throw AdminError.badRequest("events needs a url") }
                    choice = .off
                } else {
                    choice = .on(try Self.checked { () throws(LiveAppSettings.Invalid) in try LiveAppSettings.webhooks(.object(body)) })
                }
                try await self.change(app: id) { $0.webhooks = choice }
                return try self.webhooks(app: id)
            }
        }
        router.delete("/api/realtime/apps/:app/webhooks") { request, context in
            try await self.authorized(request, context) {
                let id = try context.parameters.require("app")
                try await self.change(app: id) { $0.webhooks = nil }
                return try self.webhooks(app: id)
            }
        }
    }

    /// Applies `edit` to the app's live settings: through Redis to every node when clustered, else on this node.
    func change(app id: String, _ edit: (inout LiveAppSettings) -> Void) async throws {
        let settings = try self.controlPlane.liveSettings(app: id, after: edit)
        guard let sync = self.sync else {
            try self.controlPlane.applyLive(settings, app: id)
            return
        }
        do {
            try await sync.share(settings, app: id)
        } catch let error as EngineUnavailable {
            throw AdminError(
                status: .serviceUnavailable,
                code: "engine_unavailable",
                message: "Redis cannot be reached, so the change cannot reach every node; nothing changed (\(error.reason))"
            )
        }
    }

    func rules(app id: String) throws -> Response {
        let (rules, source) = try self.controlPlane.channelRules(app: id)
        let value = JSONValue.object([
            "rules": .array(rules.map(LiveAppSettings.value(of:))),
            "source": .string(source.rawValue),
        ])
        return Self.response(value)
    }

    func webhooks(app id: String) throws -> Response {
        let (settings, source) = try self.controlPlane.webhooks(app: id)
        let value = JSONValue.object([
            "webhooks": settings.map(LiveAppSettings.value(of:)) ?? .null,
            "source": .string(source.rawValue),
            "events": .array(WebhookSettings.knownEvents.map(JSONValue.string)),
        ])
        return Self.response(value)
    }

    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.text))
        )
    }

    /// The body's members: a JSON object of at most `AdminBody.limit` bytes holding only `members`; else 400.
    static func body(_ request: Request, members: Set<String>) async throws -> [String: JSONValue] {
        let bytes: ByteBuffer
        do {
            bytes = try await request.body.collect(upTo: AdminBody.limit)
        } catch {
            throw AdminError.badRequest("the body must be at most \(AdminBody.limit) bytes")
        }
        // The project's parser first: it bounds nesting before Foundation's decoder sees the bytes.
        do {
            _ = try JSONObject(parsing: bytes)
        } catch {
            throw AdminError.badRequest("the body must be a JSON object: \(error.message)")
        }
        let value = try Self.checked { () throws(LiveAppSettings.Invalid) in try JSONValue.parse(Data(bytes.readableBytesView)) }
        guard case .object(let object) = value else { throw AdminError.badRequest("the body must be a JSON object") }
        for name in object.keys.sorted() where !members.contains(name) {
            throw AdminError.badRequest("unknown field \(name) (known: \(members.sorted().joined(separator: ", ")))")
        }
        return object
    }

    /// Runs a check, turning its refusal into 400 with the check's message.
    static func checked<T>(_ body: () throws(LiveAppSettings.Invalid) -> T) throws(AdminError) -> T {
        do {
            return try body()
        } catch {
            throw AdminError.badRequest(error.message)
        }
    }
}

import Foundation
import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

/// The admin and console API: gateway status, security events, plans, the workspace, and (through
/// `AppRoutes`, `KeyRoutes`, `ChannelRoutes`) apps, keys, origins and channels, all behind the admin token.
struct AdminRoutes: Sendable {
    let bus: Bus
    let connections: ConnectionCounter
    let store: SQLiteStore
    /// Buffers security events for the store; a read writes what it holds first, so a refusal answered a moment ago is
    /// in the list (read-your-writes for whoever just saw the refusal).
    let securityWriter: SecurityEventWriter
    let controlPlane: ControlPlane
    let authorized: AdminAuthorization
    let started: Int64
    let version: String
    /// The plan `/api/workspaces/current` names (`workspace_plan`).
    var workspacePlan = "free"
    /// Month-to-date messages for the workspace's usage.
    var usage: UsageMeter?
    /// With Redis, carries app edits to the other nodes (LiveSettingsSync.swift).
    var sync: LiveSettingsSync?

    func register(on router: Router<SwitchboardContext>) {
        // `/api/health`, `/health` and `/ready` are the probes' (ProbeRoutes.swift).
        router.get("/api/realtime/gateway/status") { request, context in
            try await self.authorized(request, context) { self.status() }
        }
        router.get("/api/realtime/security-events") { request, context in
            try await self.authorized(request, context) { try self.securityEvents(request) }
        }
        // Public, like a pricing page: limits and prices, nothing about apps.
        router.get("/api/plans") { _, _ in self.plans() }
        router.get("/api/workspaces/current") { request, context in
            try await self.authorized(request, context) { try self.workspace() }
        }
        AppRoutes(controlPlane: self.controlPlane, bus: self.bus, authorized: self.authorized, sync: self.sync).register(on: router)
        KeyRoutes(controlPlane: self.controlPlane, authorized: self.authorized, sync: self.sync).register(on: router)
        ChannelRoutes(controlPlane: self.controlPlane, bus: self.bus, authorized: self.authorized).register(on: router)
    }

    func status() -> Response {
        let counts = self.connections.snapshot
        let uptime = (WallClock.milliseconds() - self.started) / 1000
        return JSONResponse.make { json in
            json.beginObject()
            json.member("uptime_s", uptime)
            json.member("version", self.version)
            json.key("connections")
            json.beginObject()
            json.member("total", counts.values.reduce(0, +))
            for name in ["pusher", "jsonaction", "jwt", "sse"] { json.member(name, counts[name, default: 0]) }
            json.endObject()
            let rates = self.bus.throughput.rates(self.bus.stats, now: WallClock.milliseconds())
            json.member("messages_in_per_s", (rates.messagesIn * 10).rounded() / 10)
            json.member("messages_out_per_s", (rates.messagesOut * 10).rounded() / 10)
            json.member("messages_in_total", self.bus.stats.publishedTotal)
            json.member("messages_out_total", self.bus.stats.deliveredTotal)
            self.engineStatus(json: &json)
            json.endObject()
        }
    }

    /// `"engine": {"kind": "redis", "status": "ok" | "unavailable"}`.
    func engineStatus(json: inout JSONWriter) {
        json.key("engine")
        json.beginObject()
        json.member("kind", self.bus.engine.kind)
        json.member("status", self.bus.engine.isAvailable ? "ok" : "unavailable")
        json.endObject()
    }

    /// `{plans: [{name, limits}]}`: the built-in plans first, then `[plans.NAME]` additions by name.
    func plans() -> Response {
        let builtIn = ["free", "builder", "pro", "enterprise"]
        let names = builtIn.filter { self.controlPlane.plans[$0] != nil } + self.controlPlane.plans.keys.filter { !builtIn.contains($0) }.sorted()
        return JSONResponse.make { json in
            json.beginObject()
            json.key("plans")
            json.beginArray()
            for name in names {
                guard let plan = self.controlPlane.plans[name] else { continue }
                json.beginObject()
                json.member("name", name)
                json.key("limits")
                json.limits(plan)
                if let price = plan.priceMonthly { json.member("priceMonthly", price) }
                if let currency = plan.currency { json.member("currency", currency) }
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
    }

    /// `{workspace: {id, name, version, engine, apps, connections}}`: this edge, as the console's header shows it.
    func workspace() throws -> Response {
        let apps = try self.controlPlane.apps().count
        let connections = self.connections.snapshot.values.reduce(0, +)
        return JSONResponse.make { json in
            json.beginObject()
            json.key("workspace")
            json.beginObject()
            json.member("id", "local")
            json.member("name", "Switchboard")
            json.member("version", self.version)
            json.member("engine", self.bus.engine.kind)
            json.member("apps", apps)
            json.member("connections", connections)
            json.key("plan")
            json.beginObject()
            json.member("name", self.workspacePlan)
            if let plan = self.controlPlane.plans[self.workspacePlan] {
                json.key("limits")
                json.limits(plan)
                if let price = plan.priceMonthly { json.member("priceMonthly", price) }
                if let currency = plan.currency { json.member("currency", currency) }
            }
            json.endObject()
            if let usage = self.usage {
                json.member("monthlyMessages", usage.monthlyUsage().reduce(0) { $0 + $1.messages })
            }
            json.endObject()
            json.endObject()
        }
    }

    func securityEvents(_ request: Request) throws -> Response {
        let parameters = request.uri.queryParameters
        var query = SecurityEventQuery()
        query.app = parameters["app"].map(String.init)
        if let kind = parameters["kind"] {
            guard let parsed = SecurityEvent.Kind(name: String(kind)) else {
                return JSONResponse.error(.badRequest, code: "bad_request", message: "unknown kind \(kind)")
            }
            query.kind = parsed
        }
        if let since = parameters["since"] {
            guard let parsed = Int64(String(since)) else {
                return JSONResponse.error(.badRequest, code: "bad_request", message: "since must be milliseconds since the Unix epoch")
            }
            query.since = parsed
        }
        if let limit = parameters["limit"] {
            guard let parsed = Int(String(limit)), parsed > 0 else {
                return JSONResponse.error(.badRequest, code: "bad_request", message: "limit must be a positive whole number")
            }
            query.limit = min(parsed, 1000)
        }
        self.securityWriter.flush()
        let events = try self.store.securityEvents(query)
        return JSONResponse.make { json in
            json.beginObject()
            json.key("events")
            json.beginArray()
            for event in events {
                json.beginObject()
                json.member("time", event.time)
                if let app = event.app { json.member("app", app) }
                json.member("kind", event.kind.name)
                if let ip = event.clientIP { json.member("clientIp", ip) }
                if let origin = event.origin { json.member("origin", origin) }
                if let agent = event.userAgent { json.member("userAgent", agent) }
                json.member("detail", event.detail)
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
    }
}

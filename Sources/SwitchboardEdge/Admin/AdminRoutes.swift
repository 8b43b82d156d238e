import Foundation
import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

/// Health, gateway status and security events; everything but health needs the admin token.
struct AdminRoutes: Sendable {
    let bus: Bus
    let connections: ConnectionCounter
    let store: SQLiteStore
    let authorized: AdminAuthorization
    let started: Int64
    let version: String

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/health") { _, _ in
            JSONResponse.make { json in
                json.beginObject()
                json.member("status", "ok")
                json.member("version", self.version)
                json.key("engine")
                json.beginObject()
                json.member("kind", self.bus.engine.kind)
                json.member("status", "ok")
                json.endObject()
                json.endObject()
            }
        }
        router.get("/api/realtime/gateway/status") { request, context in
            try await self.authorized(request, context) { self.status() }
        }
        router.get("/api/realtime/security-events") { request, context in
            try await self.authorized(request, context) { try self.securityEvents(request) }
        }
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
            json.member("messages_in_total", self.bus.stats.publishedTotal)
            json.member("messages_out_total", self.bus.stats.deliveredTotal)
            json.key("engine")
            json.beginObject()
            json.member("kind", self.bus.engine.kind)
            json.member("status", "ok")
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
        query.since = parameters["since"].flatMap { Int64(String($0)) }
        query.limit = parameters["limit"].flatMap { Int(String($0)) }.map { max(1, min($0, 1000)) } ?? 100
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

import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

/// `GET|POST /api/realtime/apps`, `GET|PATCH /api/realtime/apps/{app}` and `GET|POST|DELETE …/{app}/origins`.
struct AppRoutes: Sendable {
    let controlPlane: ControlPlane
    let bus: Bus
    let authorized: AdminAuthorization
    /// With Redis, carries each edit to the other nodes (LiveSettingsSync.swift).
    var sync: LiveSettingsSync?

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/apps") { request, context in
            try await self.authorized(request, context) {
                let apps = try self.controlPlane.apps()
                return JSONResponse.make { json in
                    json.beginObject()
                    json.key("apps")
                    json.beginArray()
                    for app in apps { self.write(app, to: &json) }
                    json.endArray()
                    json.endObject()
                }
            }
        }
        router.post("/api/realtime/apps") { request, context in
            try await self.authorized(request, context) { try await self.create(request) }
        }
        router.get("/api/realtime/apps/:app") { request, context in
            try await self.authorized(request, context) { self.appResponse(try self.controlPlane.app(context.parameters.require("app"))) }
        }
        router.patch("/api/realtime/apps/:app") { request, context in
            try await self.authorized(request, context) {
                let edit = AppEdit(body: try await AdminBody.read(request), plans: self.controlPlane.plans)
                try edit.checkMembers()
                let app = try self.controlPlane.update(try context.parameters.require("app")) { try edit.apply(to: &$0) }
                try await self.share(app)
                return self.appResponse(app)
            }
        }
        router.get("/api/realtime/apps/:app/origins") { request, context in
            try await self.authorized(request, context) { self.origins(try self.controlPlane.app(context.parameters.require("app"))) }
        }
        router.post("/api/realtime/apps/:app/origins") { request, context in
            try await self.authorized(request, context) {
                let origin = try await self.origin(request)
                let app = try self.controlPlane.update(try context.parameters.require("app")) { app in
                    if !app.origins.contains(origin) { app.origins.append(origin) }
                }
                try await self.share(app)
                return self.origins(app, status: .created)
            }
        }
        router.delete("/api/realtime/apps/:app/origins") { request, context in
            try await self.authorized(request, context) {
                let origin = try await self.origin(request)
                let app = try self.controlPlane.update(try context.parameters.require("app")) { app in
                    guard let index = app.origins.firstIndex(of: origin) else {
                        throw AdminError.notFound("origin \(origin) is not allowed for app \(app.id)")
                    }
                    app.origins.remove(at: index)
                }
                try await self.share(app)
                return self.origins(app)
            }
        }
    }

    /// `POST /api/realtime/apps`: `{name?, id?, key?, plan?, origins?, …}` → 201 `{app, secret}`.
    func create(_ request: Request) async throws -> Response {
        let body = try await AdminBody.read(request)
        let edit = AppEdit(body: body, plans: self.controlPlane.plans)
        try edit.checkMembers()
        let id = try edit.string("id") ?? self.controlPlane.nextAppID()
        guard Self.isWord(id, max: 64) else { throw AdminError.badRequest("id must be 1 to 64 letters, digits, _ or -") }
        let key = try edit.string("key") ?? ControlPlane.newKey()
        guard Self.isWord(key, max: 128) else { throw AdminError.badRequest("key must be 1 to 128 letters, digits, _ or -") }
        var app = StoredApp(id: id, key: key, name: "App \(id)", plan: "free", createdAt: WallClock.milliseconds())
        try edit.apply(to: &app)
        let (created, secret) = try self.controlPlane.create(app)
        return JSONResponse.make(.created) { json in
            json.beginObject()
            json.key("app")
            self.write(created, to: &json)
            json.member("secret", secret)
            json.endObject()
        }
    }

    /// Tells the other nodes of a Redis cluster about an edit made here; 503 when Redis cannot be reached.
    func share(_ app: StoredApp) async throws {
        guard let sync = self.sync else { return }
        do {
            try await sync.shareApp(app)
        } catch {
            throw AdminError(
                status: .serviceUnavailable,
                code: "engine_unavailable",
                message: "saved on this node, but Redis cannot be reached: the other nodes keep the old values until it is saved again"
            )
        }
    }

    /// The `origin` of a body `{"origin": …}` or of `?origin=`, checked.
    func origin(_ request: Request) async throws -> String {
        let origin: String?
        if let query = request.uri.queryParameters["origin"] {
            origin = String(query)
        } else {
            origin = try await AdminBody.read(request).string("origin")
        }
        guard let origin else { throw AdminError.badRequest("origin is required: {\"origin\": \"https://app.example.com\"} or ?origin=") }
        guard OriginSyntax.isValid(origin) else { throw AdminError.badRequest("\(origin) is not an origin like https://app.example.com") }
        return origin
    }

    func appResponse(_ app: StoredApp) -> Response {
        JSONResponse.make { json in
            json.beginObject()
            json.key("app")
            self.write(app, to: &json)
            json.endObject()
        }
    }

    func origins(_ app: StoredApp, status: HTTPResponse.Status = .ok) -> Response {
        JSONResponse.make(status) { json in
            json.beginObject()
            json.key("origins")
            json.strings(app.origins)
            json.endObject()
        }
    }

    func write(_ app: StoredApp, to json: inout JSONWriter) {
        let limits = self.controlPlane.registry.app(id: app.id)?.plan ?? app.limits.applied(to: self.controlPlane.plans[app.plan] ?? .free)
        json.app(app, limits: limits, connections: self.bus.connectionCount(app: app.id), channels: self.bus.channels(app: app.id).count)
    }

    static func isWord(_ text: String, max: Int) -> Bool {
        !text.isEmpty && text.count <= max && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}

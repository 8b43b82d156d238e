import Foundation
import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// The JSON-action server REST API: publish, channels, presence, tokens and history, keyed by the app secret.
struct JSONActionAPI: Sendable {
    let environment: AdapterEnvironment

    var bus: Bus { self.environment.bus }

    func register(on group: RouterGroup<SwitchboardContext>) {
        group.post("publish") { request, context in try await self.authorized(request, context, self.publish) }
        group.get("channels") { request, context in try await self.authorized(request, context, self.channels) }
        group.post("presence/join") { request, context in try await self.authorized(request, context, self.presenceJoin) }
        group.post("presence/update") { request, context in try await self.authorized(request, context, self.presenceUpdate) }
        group.post("presence/leave") { request, context in try await self.authorized(request, context, self.presenceLeave) }
        group.get("presence/members") { request, context in try await self.authorized(request, context, self.members) }
        group.post("tokens") { request, context in try await self.authorized(request, context, self.tokens) }
        group.get("history") { request, context in try await self.authorized(request, context, self.history) }
    }

    struct Call {
        var app: App
        var request: Request
        var caller: Caller
        var body: JSONObject?
    }

    /// Checks the bearer secret, reads a JSON body for POSTs, and turns refusals into JSON errors.
    func authorized(_ request: Request, _ context: SwitchboardContext, _ handler: (Call) async throws -> Response) async throws -> Response {
        let caller = Caller(request: request, context: context)
        let bearer = request.headers[.authorization].flatMap { header -> String? in
            guard header.lowercased().hasPrefix("bearer ") else { return nil }
            return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        let app: App
        switch self.environment.gate.admitServer(secret: bearer, caller: caller, request: request) {
        case .success(let found): app = found
        case .failure(let refusal):
            self.environment.gate.report(refusal, caller: caller)
            // The protocol's words: 404 `not_found` (what the Maravilla SDK reads), 403 `forbidden` (a disabled app, a
            // browser origin the app does not list), else `unauthorized`.
            let code = refusal.status == .notFound ? "not_found" : refusal.status == .forbidden ? "forbidden" : "unauthorized"
            return JSONResponse.error(refusal.status, code: code, message: refusal.message)
        }
        var call = Call(app: app, request: request, caller: caller)
        if request.method == .post {
            let limit = app.plan.maxMessageBytes + 16 * 1024
            guard let bytes = await self.environment.gate.body(of: request, limit: limit, app: app, caller: caller, what: "REST API") else {
                return JSONResponse.error(.contentTooLarge, code: "message_too_large", message: "the body is over \(limit) bytes")
            }
            do {
                call.body = try JSONObject(parsing: bytes)
            } catch {
                self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "malformed JSON body")
                return JSONResponse.error(.badRequest, code: "bad_request", message: "malformed JSON: \(error.message)")
            }
        }
        do {
            return try await handler(call)
        } catch let failure as APIFailure {
            if let kind = failure.kind { self.environment.gate.report(kind, app: app.id, caller: caller, detail: failure.message) }
            return JSONResponse.error(failure.status, code: failure.code, message: failure.message)
        }
    }

    struct APIFailure: Error {
        var status: HTTPResponse.Status
        var code: String
        var message: String
        var kind: SecurityEvent.Kind?

        static func badRequest(_ message: String) -> APIFailure {
            APIFailure(status: .badRequest, code: "bad_request", message: message, kind: .badRequest)
        }

        static func from(_ error: any Error) -> APIFailure {
            if let unavailable = error as? EngineUnavailable {
                return APIFailure(
                    status: .serviceUnavailable,
                    code: "engine_unavailable",
                    message: "\(unavailable); try again shortly",
                    kind: nil
                )
            }
            guard let refusal = error as? BusError else {
                return APIFailure(status: .internalServerError, code: "internal", message: "\(error)", kind: nil)
            }
            return APIFailure(status: refusal.httpStatus, code: refusal.errorCode, message: refusal.message, kind: refusal.securityKind)
        }
    }

    func requireString(_ body: JSONObject?, _ key: String) throws(APIFailure) -> String {
        guard let value = body?.string(key), !value.isEmpty else { throw .badRequest("\"\(key)\" is required") }
        return value
    }

    /// Member `channel`, a valid channel name. Every endpoint refuses a bad name as a publish does, rather than
    /// answering an empty list or `changed: false` for a channel that cannot exist.
    func requireChannel(_ body: JSONObject?) throws(APIFailure) -> String {
        try Self.validChannel(self.requireString(body, "channel"))
    }

    /// Query parameter `channel`, a valid channel name.
    func channelQuery(_ call: Call) throws(APIFailure) -> String {
        guard let channel = self.query(call, "channel"), !channel.isEmpty else { throw .badRequest("\"channel\" is required") }
        return try Self.validChannel(channel)
    }

    static func validChannel(_ channel: String) throws(APIFailure) -> String {
        guard ChannelName.isValid(channel) else { throw .badRequest("invalid channel name") }
        return channel
    }

    /// Member `userId`, 1 to 200 bytes: the bound a WebSocket join keeps, so a server join cannot store more.
    func requireUserID(_ body: JSONObject?) throws(APIFailure) -> String {
        let userID = try self.requireString(body, "userId")
        guard userID.utf8.count <= 200 else { throw .badRequest("\"userId\" must be 1 to 200 bytes") }
        return userID
    }

    /// Member `key` as a string, nil when absent or null. Another type is refused: read as absent, a `userId` or
    /// `name` would be dropped (a token without subject, an unnamed message).
    func optionalString(_ body: JSONObject?, _ key: String) throws(APIFailure) -> String? {
        guard let body, body.has(key), !body.isNull(key) else { return nil }
        guard let value = body.string(key) else { throw .badRequest("\"\(key)\" must be a string") }
        return value
    }

    func query(_ call: Call, _ key: String) -> String? { call.request.uri.queryParameters[Substring(key)].map(String.init) }

    /// Query parameter `key` as a non-negative integer, nil when absent or empty; anything else is refused rather than
    /// ignored (an ignored `after` would send the whole history again).
    func countQuery(_ call: Call, _ key: String) throws(APIFailure) -> UInt64? {
        guard let text = self.query(call, key), !text.isEmpty else { return nil }
        guard let value = UInt64(text) else { throw .badRequest("\"\(key)\" must be a non-negative integer") }
        return value
    }

    // MARK: Endpoints

    func publish(_ call: Call) async throws -> Response {
        let channel = try self.requireString(call.body, "channel")
        guard let data = call.body?.raw("data") else { throw APIFailure.badRequest("\"data\" is required") }
        let publication = Publication(
            app: call.app.id,
            channel: channel,
            event: try self.optionalString(call.body, "name"),
            data: data,
            userID: try self.optionalString(call.body, "userId"),
            timestamp: WallClock.milliseconds()
        )
        let published: Publication
        do {
            published = try await self.bus.publish(publication, app: call.app)
        } catch {
            throw APIFailure.from(error)
        }
        return JSONResponse.published(published)
    }

    func channels(_ call: Call) async throws -> Response {
        let channels = try await self.bus.openedChannels(app: call.app.id).keys.sorted()
        return JSONResponse.make { json in
            json.beginObject()
            json.key("channels")
            json.beginArray()
            for channel in channels { json.string(channel) }
            json.endArray()
            json.endObject()
        }
    }

    func presenceJoin(_ call: Call) async throws -> Response {
        let channel = try self.requireChannel(call.body)
        let userID = try self.requireUserID(call.body)
        let metadata = call.body?.raw("metadata") ?? ByteBuffer(string: "null")
        do {
            let change = try await self.bus.presenceJoin(app: call.app, channel: channel, userID: userID, metadata: metadata, holder: .server)
            return Self.changed(change != nil)
        } catch {
            throw APIFailure.from(error)
        }
    }

    func presenceUpdate(_ call: Call) async throws -> Response {
        let channel = try self.requireChannel(call.body)
        let userID = try self.requireUserID(call.body)
        let metadata = call.body?.raw("metadata") ?? ByteBuffer(string: "null")
        do {
            guard call.app.policy(for: channel).presence else { throw BusError.presenceNotAllowed }
            let change = try await self.bus.presenceUpdate(app: call.app, channel: channel, userID: userID, metadata: metadata)
            return Self.changed(change != nil)
        } catch {
            throw APIFailure.from(error)
        }
    }

    func presenceLeave(_ call: Call) async throws -> Response {
        let channel = try self.requireChannel(call.body)
        let userID = try self.requireUserID(call.body)
        do {
            guard call.app.policy(for: channel).presence else { throw BusError.presenceNotAllowed }
            let change = try await self.bus.presenceLeave(app: call.app.id, channel: channel, userID: userID, holder: .server)
            return Self.changed(change != nil)
        } catch {
            throw APIFailure.from(error)
        }
    }

    static func changed(_ changed: Bool) -> Response {
        JSONResponse.make { json in
            json.beginObject()
            json.key("ok")
            json.bool(true)
            json.key("changed")
            json.bool(changed)
            json.endObject()
        }
    }

    func members(_ call: Call) async throws -> Response {
        let channel = try self.channelQuery(call)
        let members = try await self.bus.members(app: call.app.id, channel: channel)
        return JSONResponse.make { json in
            json.beginObject()
            json.key("members")
            json.beginArray()
            for member in members { json.presenceMember(member) }
            json.endArray()
            json.endObject()
        }
    }

    func tokens(_ call: Call) async throws -> Response {
        let channel = try self.requireChannel(call.body)
        let userID = try self.optionalString(call.body, "userId")
        // A field of another type is refused, not defaulted: the defaults (both permissions, an hour) grant more.
        var permissions = ["subscribe", "publish"]
        if let body = call.body, body.has("permissions"), !body.isNull("permissions") {
            guard let listed = body.strings("permissions") else { throw APIFailure.badRequest("\"permissions\" must be a list of strings") }
            permissions = listed
        }
        guard permissions.allSatisfy({ $0 == "subscribe" || $0 == "publish" }) else {
            throw APIFailure.badRequest("permissions are \"subscribe\" and \"publish\"")
        }
        var expiresIn: Int64 = 3600
        if let body = call.body, body.has("expiresIn"), !body.isNull("expiresIn") {
            let whole = body.double("expiresIn").flatMap { Int64(exactly: $0) }
            guard let seconds = body.integer("expiresIn") ?? whole else { throw APIFailure.badRequest("\"expiresIn\" must be whole seconds") }
            expiresIn = seconds
        }
        guard expiresIn > 0, expiresIn <= 30 * 86_400 else { throw APIFailure.badRequest("\"expiresIn\" must be 1 to 2592000 seconds") }
        let token = HMACToken.mint(
            secret: call.app.signingSecret,
            subject: userID,
            expiresAt: WallClock.milliseconds() / 1000 + expiresIn,
            channel: channel,
            permissions: permissions
        )
        return JSONResponse.make { json in
            json.beginObject()
            json.member("token", token)
            json.endObject()
        }
    }

    func history(_ call: Call) async throws -> Response {
        let channel = try self.channelQuery(call)
        let limit = try self.countQuery(call, "limit").map { Int(min($0, 1000)) } ?? 100
        let after = try self.countQuery(call, "after")
        let page = try await self.bus.history(app: call.app, channel: channel, after: after, limit: limit)
        return JSONResponse.make { json in
            json.beginObject()
            json.key("messages")
            json.beginArray()
            for publication in page.publications { json.raw(JSONActionEncoder.message(publication, event: nil)) }
            json.endArray()
            if let latest = page.latest {
                json.member("seq", latest.offset)
                json.member("epoch", latest.epoch)
            }
            json.endObject()
        }
    }
}

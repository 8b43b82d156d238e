import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// The Pusher HTTP API: trigger events, query channels and presence, terminate a user's connections.
///
/// Routes (every one signed as `PusherRequestSignature` describes): `POST /apps/{id}/events`,
/// `POST /apps/{id}/batch_events`, `GET /apps/{id}/channels`, `GET /apps/{id}/channels/{name}`,
/// `GET /apps/{id}/channels/{name}/users`, `POST /apps/{id}/users/{user}/terminate_connections` and the same
/// without the `/apps/{id}` prefix (the official Python library posts there; the app comes from `auth_key`).
/// An app id or `auth_key` that names no app answers 404 JSON, the contract's "no such app".
struct PusherHTTPAPI: Sendable {
    let context: PusherContext

    var bus: Bus { self.context.bus }
    var gate: Gate { self.context.environment.gate }

    /// Most channels one `/events` call may name.
    static let maxChannelsPerEvent = 100
    /// Most events one `/batch_events` call may carry.
    static let maxBatch = 10

    func register(on router: Router<SwitchboardContext>) {
        router.post("/apps/{app_id}/events") { request, context in
            await self.handle(request, context, appID: context.parameters.get("app_id"), self.events)
        }
        router.post("/apps/{app_id}/batch_events") { request, context in
            await self.handle(request, context, appID: context.parameters.get("app_id"), self.batchEvents)
        }
        router.get("/apps/{app_id}/channels") { request, context in
            await self.handle(request, context, appID: context.parameters.get("app_id"), self.channels)
        }
        router.get("/apps/{app_id}/channels/{channel_name}") { request, context in
            await self.handle(request, context, appID: context.parameters.get("app_id"), self.channel)
        }
        router.get("/apps/{app_id}/channels/{channel_name}/users") { request, context in
            await self.handle(request, context, appID: context.parameters.get("app_id"), self.users)
        }
        router.post("/apps/{app_id}/users/{user_id}/terminate_connections") { request, context in
            await self.handle(request, context, appID: context.parameters.get("app_id"), self.terminate)
        }
        router.post("/users/{user_id}/terminate_connections") { request, context in
            await self.handle(request, context, appID: nil, self.terminate)
        }
    }

    struct Call {
        var app: App
        var query: PusherRequestSignature
        var body: JSONObject?
        var parameters: [String: String]
    }

    struct Failure: Error {
        var status: HTTPResponse.Status
        var code: String
        var message: String
        var kind: SecurityEvent.Kind?

        static func badRequest(_ message: String) -> Failure {
            Failure(status: .badRequest, code: "bad_request", message: message, kind: .badRequest)
        }

        static func tooLarge(_ limit: Int) -> Failure {
            Failure(status: .contentTooLarge, code: "message_too_large", message: "event data is limited to \(limit) bytes", kind: .messageTooLarge)
        }
    }

    // MARK: Admission

    /// Finds the app, checks the signature, reads the body, and turns failures into JSON errors and security events.
    func handle(_ request: Request, _ context: SwitchboardContext, appID: String?, _ handler: (Call) async throws -> Response) async -> Response {
        let caller = Caller(request: request, context: context)
        let query = PusherRequestSignature(query: request.uri.query)
        let found = appID.map { self.bus.apps.app(id: $0) } ?? query["auth_key"].flatMap { self.bus.apps.app(key: $0) }
        guard let found else {
            let message = appID.map { "no app with id \($0)" } ?? "no app with this auth_key"
            self.gate.report(.unknownKey, app: nil, caller: caller, detail: "pusher API: \(message)")
            // The users route names its app by `auth_key` alone, so an unknown key is "no such app" there too (404).
            return JSONResponse.error(.notFound, code: "unknown_app", message: message)
        }
        let app: App
        switch self.gate.check(found, caller: caller) {
        case .success(let admitted): app = admitted
        case .failure(let refusal):
            self.gate.report(refusal, caller: caller)
            return JSONResponse.error(refusal.status, code: refusal.kind.name, message: refusal.message)
        }
        let path = request.uri.path
        let decoded = PusherRequestSignature.percentDecode(Substring(path))
        let now = WallClock.milliseconds() / 1000
        let badSignature = { (failure: PusherRequestSignature.Failure) -> Response in
            self.gate.report(.badSignature, app: app.id, caller: caller, detail: "pusher API: \(failure.message)")
            return JSONResponse.error(.unauthorized, code: "bad_signature", message: failure.message)
        }
        do {
            // The query first: a caller without the secret gets no body read (up to ten events' worth).
            try query.verifyQuery(
                method: request.method.rawValue,
                paths: decoded == path ? [path] : [path, decoded],
                key: app.key,
                secrets: app.secrets,
                now: now
            )
        } catch {
            return badSignature(error)
        }
        var body: ByteBuffer?
        if request.method == .post {
            let limit = Self.maxBatch * app.plan.maxMessageBytes + 64 * 1024
            body = await self.gate.body(of: request, limit: limit, app: app, caller: caller, what: "pusher API")
            if body == nil {
                return JSONResponse.error(.contentTooLarge, code: "message_too_large", message: "the body is over \(limit) bytes")
            }
        }
        do {
            try query.verifyBody(body)
        } catch {
            return badSignature(error)
        }
        var call = Call(app: app, query: query, body: nil, parameters: [:])
        for name in ["channel_name", "user_id"] {
            if let value = context.parameters.get(name) { call.parameters[name] = PusherRequestSignature.percentDecode(Substring(value)) }
        }
        if let body, body.readableBytes > 0 {
            do {
                call.body = try JSONObject(parsing: body)
            } catch {
                self.gate.report(.badRequest, app: app.id, caller: caller, detail: "pusher API: malformed JSON body")
                return JSONResponse.error(.badRequest, code: "bad_request", message: "malformed JSON body: \(error.message)")
            }
        }
        do {
            return try await handler(call)
        } catch let failure as Failure {
            if let kind = failure.kind { self.gate.report(kind, app: app.id, caller: caller, detail: "pusher API: \(failure.message)") }
            return JSONResponse.error(failure.status, code: failure.code, message: failure.message)
        } catch let refusal as BusError {
            self.gate.report(refusal.securityKind, app: app.id, caller: caller, detail: "pusher API: \(refusal.message)")
            return JSONResponse.error(refusal.httpStatus, code: refusal.errorCode, message: refusal.message)
        } catch {
            return JSONResponse.error(.internalServerError, code: "internal", message: "\(error)")
        }
    }

    // MARK: Events

    /// One event to trigger, checked.
    struct Trigger {
        var name: String
        var channels: [String]
        var data: ByteBuffer
        var size: Int
        var socketID: String?
        var info: Set<String>
    }

    func trigger(from object: JSONObject, app: App, maxChannels: Int) throws(Failure) -> Trigger {
        guard let name = object.string("name"), !name.isEmpty else { throw .badRequest("\"name\" is required") }
        guard EventName.isValid(name) else { throw .badRequest(EventName.rule) }
        // Pusher answers 400 too: a `pusher:` event would reach pusher-js apps as the server's own (a subscription error).
        guard !PusherCommand.isReservedEventName(name) else { throw .badRequest("the pusher: and pusher_internal: event names are reserved") }
        var seen = Set<String>()
        // A channel named twice gets the event once.
        let channels = (object.strings("channels") ?? object.string("channel").map { [$0] } ?? []).filter { seen.insert($0).inserted }
        guard !channels.isEmpty else { throw .badRequest("\"channels\" (or \"channel\") is required") }
        guard channels.count <= maxChannels else { throw .badRequest("at most \(maxChannels) channels per event") }
        if let invalid = channels.first(where: { !ChannelName.isValid($0) }) { throw .badRequest("invalid channel name \(invalid)") }
        if channels.count > 1, channels.contains(where: PusherChannel.isEncrypted) {
            throw .badRequest("an event for an encrypted channel names that channel alone")
        }
        guard let raw = object.raw("data") else { throw .badRequest("\"data\" is required") }
        let content = object.string("data")
        let size = content?.utf8.count ?? raw.readableBytes
        guard size <= app.plan.maxMessageBytes else { throw .tooLarge(app.plan.maxMessageBytes) }
        let socketID = object.string("socket_id")
        if let socketID, !PusherConnection.isSocketID(socketID) { throw .badRequest("invalid socket_id \(socketID)") }
        let info = Set((object.string("info") ?? "").split(separator: ",").map { String($0).trimmingJSONWhitespace() }.filter { !$0.isEmpty })
        return Trigger(
            name: name,
            channels: channels,
            data: PusherData.busData(raw: raw, content: content),
            size: size,
            socketID: socketID,
            info: info
        )
    }

    /// Admits every message of `triggers` (one per channel) together, before any is published: a call is carried
    /// whole or refused whole, so a caller retrying a refusal sends nothing twice.
    func admit(_ triggers: [Trigger], app: App) throws {
        let messages = triggers.reduce(0) { $0 + $1.channels.count }
        do {
            try self.bus.admitPublish(app: app, size: triggers.map(\.size).max() ?? 0, messages: messages)
        } catch .messageTooLarge(let limit) {
            throw Failure.tooLarge(limit)
        } catch .monthlyQuota(let limit) {
            throw Failure(status: .forbidden, code: "over_quota", message: BusError.monthlyQuota(limit: limit).message, kind: .overQuota)
        } catch {
            throw Failure(status: .forbidden, code: "rate_limited", message: "the app's publish quota is exhausted", kind: .rateLimited)
        }
    }

    /// Publishes an admitted `trigger` on its channels; `socket_id` names the connection that must not get it.
    func publish(_ trigger: Trigger, app: App) async throws {
        // A socket on another node is named by its connection id (the part before the dot, unique across nodes), which
        // the engine carries to every node, so `socket_id` exclusion holds cluster-wide.
        let sender = trigger.socketID.flatMap { socketID -> ConnectionID? in
            if let local = self.context.registry.connection(socketID: socketID) { return local.app.id == app.id ? local.session.connectionID : nil }
            return socketID.split(separator: ".").first.flatMap { UInt64($0) }.map(ConnectionID.init)
        }
        let now = WallClock.milliseconds()
        for channel in trigger.channels {
            let publication = Publication(app: app.id, channel: channel, event: trigger.name, data: trigger.data, sender: sender, timestamp: now)
            _ = try await self.bus.publishAdmitted(publication, app: app)
        }
    }

    /// The `info` attributes asked for, of one channel: `subscription_count`, and `user_count` on presence channels.
    /// Writes the requested channel attributes; `count` is the cluster-wide subscriber count when already known.
    func attributes(_ info: Set<String>, channel: String, app: App, count: Int? = nil, into json: inout JSONWriter) async throws {
        json.beginObject()
        if info.contains("user_count"), PusherChannel.isPresence(channel) {
            json.member("user_count", try await self.bus.members(app: app.id, channel: channel).count)
        }
        if info.contains("subscription_count") {
            let subscriptions: Int
            if let count { subscriptions = count } else { subscriptions = try await self.bus.clusterCount(app: app.id, channel: channel) }
            json.member("subscription_count", subscriptions)
        }
        json.endObject()
    }

    func events(_ call: Call) async throws -> Response {
        guard let body = call.body ?? Self.eventInQuery(call.query) else {
            throw Failure.badRequest("a JSON body (or the event's parameters in the query string) is required")
        }
        var trigger = try self.trigger(from: body, app: call.app, maxChannels: Self.maxChannelsPerEvent)
        if trigger.info.isEmpty, let info = call.query["info"] { trigger.info = Set(info.split(separator: ",").map(String.init)) }
        try self.admit([trigger], app: call.app)
        try await self.publish(trigger, app: call.app)
        var json = JSONWriter()
        json.beginObject()
        if !trigger.info.isEmpty {
            json.key("channels")
            json.beginObject()
            for channel in trigger.channels {
                json.key(channel)
                try await self.attributes(trigger.info, channel: channel, app: call.app, into: &json)
            }
            json.endObject()
        }
        json.endObject()
        return JSONResponse.make(.ok, json.buffer)
    }

    /// An event given as signed query parameters instead of a body, which Pusher's HTTP API allows for POST requests
    /// (`name`, `data`, `channel` or `channels[]=…&channels[]=…`, `socket_id`): as the JSON body would carry it.
    static func eventInQuery(_ query: PusherRequestSignature) -> JSONObject? {
        guard query["name"] != nil else { return nil }
        var json = JSONWriter()
        json.beginObject()
        for key in ["name", "data", "channel", "socket_id", "info"] {
            if let value = query[key] { json.member(key, value) }
        }
        let channels = query.parameters.filter { $0.key == "channels[]" || $0.key == "channels" }.map(\.value)
        if !channels.isEmpty {
            json.key("channels")
            json.beginArray()
            for channel in channels { json.string(channel) }
            json.endArray()
        }
        json.endObject()
        return try? JSONObject(parsing: json.buffer)
    }

    func batchEvents(_ call: Call) async throws -> Response {
        guard let raw = call.body?.raw("batch"), let elements = JSONArrayElements.split(raw) else {
            throw Failure.badRequest("\"batch\" must be an array of events")
        }
        guard !elements.isEmpty else { throw Failure.badRequest("\"batch\" is empty") }
        guard elements.count <= Self.maxBatch else { throw Failure.badRequest("at most \(Self.maxBatch) events per batch") }
        var triggers: [Trigger] = []
        for element in elements {
            guard let object = try? JSONObject(parsing: element) else { throw Failure.badRequest("each batch entry must be an object") }
            triggers.append(try self.trigger(from: object, app: call.app, maxChannels: 1))
        }
        try self.admit(triggers, app: call.app)
        for trigger in triggers { try await self.publish(trigger, app: call.app) }
        var json = JSONWriter()
        json.beginObject()
        if triggers.contains(where: { !$0.info.isEmpty }) {
            json.key("batch")
            json.beginArray()
            for trigger in triggers { try await self.attributes(trigger.info, channel: trigger.channels[0], app: call.app, into: &json) }
            json.endArray()
        }
        json.endObject()
        return JSONResponse.make(.ok, json.buffer)
    }

    // MARK: Channels

    func info(_ call: Call) -> Set<String> {
        Set((call.query["info"] ?? "").split(separator: ",").map { String($0).trimmingJSONWhitespace() }.filter { !$0.isEmpty })
    }

    func channels(_ call: Call) async throws -> Response {
        let info = self.info(call)
        let prefix = call.query["filter_by_prefix"] ?? ""
        if info.contains("user_count"), !prefix.hasPrefix("presence-") {
            throw Failure.badRequest("info=user_count needs filter_by_prefix=presence-")
        }
        let counts = try await self.bus.openedChannels(app: call.app.id)
        let names = counts.keys.filter { $0.hasPrefix(prefix) }.sorted()
        var json = JSONWriter()
        json.beginObject()
        json.key("channels")
        json.beginObject()
        for name in names {
            json.key(name)
            try await self.attributes(info, channel: name, app: call.app, count: counts[name], into: &json)
        }
        json.endObject()
        json.endObject()
        return JSONResponse.make(.ok, json.buffer)
    }

    func channelName(_ call: Call) throws(Failure) -> String {
        guard let name = call.parameters["channel_name"], ChannelName.isValid(name) else { throw .badRequest("invalid channel name") }
        return name
    }

    /// `occupied` plus the asked attributes; one the channel's kind lacks (`user_count` off presence, `cache` off cache
    /// channels) is a 400, as the HTTP API reference says.
    func channel(_ call: Call) async throws -> Response {
        let name = try self.channelName(call)
        let info = self.info(call)
        if info.contains("user_count"), !PusherChannel.isPresence(name) { throw Failure.badRequest("user_count is only for presence channels") }
        if info.contains("cache"), !PusherChannel.isCache(name) { throw Failure.badRequest("cache is only for cache channels") }
        let count = try await self.bus.clusterCount(app: call.app.id, channel: name)
        var json = JSONWriter()
        json.beginObject()
        json.key("occupied")
        json.bool(count > 0)
        if info.contains("user_count") { json.member("user_count", try await self.bus.members(app: call.app.id, channel: name).count) }
        if info.contains("subscription_count") { json.member("subscription_count", count) }
        if info.contains("cache") {
            let now = WallClock.milliseconds()
            let event = await self.context.cachedEvent(app: call.app, channel: name, now: now)
            PusherCacheAttribute.write(PusherCacheAttribute(event, ttlMilliseconds: self.context.cache.ttlMilliseconds, now: now), to: &json)
        }
        json.endObject()
        return JSONResponse.make(.ok, json.buffer)
    }

    func users(_ call: Call) async throws -> Response {
        let name = try self.channelName(call)
        guard PusherChannel.isPresence(name) else { throw Failure.badRequest("users are only listed for presence channels") }
        let members = try await self.bus.members(app: call.app.id, channel: name)
        var json = JSONWriter()
        json.beginObject()
        json.key("users")
        json.beginArray()
        for member in members {
            json.beginObject()
            json.member("id", member.userID)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return JSONResponse.make(.ok, json.buffer)
    }

    // MARK: Users

    func terminate(_ call: Call) async throws -> Response {
        guard let userID = call.parameters["user_id"], !userID.isEmpty else { throw Failure.badRequest("a user id is required") }
        self.terminateHere(app: call.app.id, userID: userID)
        // The user's other connections may be on any node; with one node there is nobody to tell.
        var command = JSONWriter(capacity: 64 + userID.utf8.count)
        command.beginObject()
        command.member("app", call.app.id)
        command.member("user", userID)
        command.endObject()
        do {
            try await self.bus.sendToOtherNodes(kind: Self.terminateCommand, body: command.buffer)
        } catch let unavailable as EngineUnavailable {
            throw Failure(status: .serviceUnavailable, code: "unavailable", message: "ended here, not on other nodes: \(unavailable)")
        }
        return JSONResponse.make(.ok, ByteBuffer(string: "{}"))
    }

    /// The kind of node command that ends a user's connections on another node.
    static let terminateCommand = "pusher.terminate"

    /// Ends the connections of `userID` that this node holds.
    func terminateHere(app: String, userID: String) {
        for connection in self.context.registry.connections(app: app, userID: userID) {
            connection.terminate(.unauthorized, "the server ended this user's connections")
        }
    }

    /// Carries out what other nodes' API calls ask of this node's connections (`terminate_connections`).
    func listenToOtherNodes() {
        self.bus.onNodeCommand(kind: Self.terminateCommand) { body in
            guard let command = try? JSONObject(parsing: body), let app = command.string("app"), let user = command.string("user") else { return }
            self.terminateHere(app: app, userID: user)
        }
    }
}

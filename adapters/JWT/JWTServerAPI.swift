import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// The server HTTP API of the JWT protocol, as Centrifugo's `cent` libraries call it: `POST /api/{method}` with
/// `X-API-Key: <app secret>` or `Authorization: apikey <app secret>`, answering HTTP 200 with `{"result":…}` or
/// `{"error":{"code":…,"message":…}}` (401 for a missing or wrong key). Plus `POST /api/batch` (`JWTServerBatch`) and
/// `POST /api/realtime/publish`. `publish` and `broadcast` honour `idempotency_key` as Centrifugo does: a retry on a
/// channel that carried the key in the last 5 minutes is answered with the first result and not published again.
struct JWTServerAPI: Sendable {
    let environment: AdapterEnvironment
    let registry: JWTRegistry
    /// When the API was created, for `info`'s uptime.
    let started = WallClock.milliseconds()

    var bus: Bus { self.environment.bus }

    /// The methods served under `/api/`.
    static let methods = [
        "publish", "broadcast", "subscribe", "unsubscribe", "disconnect", "presence", "presence_stats", "history", "history_remove",
        "channels", "info", "refresh",
    ]

    func register(on router: Router<SwitchboardContext>) {
        for method in Self.methods {
            router.post(RouterPath("/api/\(method)")) { request, context in try await self.call(method, request, context) }
        }
        router.post("/api/batch") { request, context in try await self.call("batch", request, context) }
        router.post("/api") { request, context in try await self.call("legacy", request, context) }
        // Xshathra's publish API: the server key may also come as `Authorization: Bearer <server key>`.
        router.post("/api/realtime/publish") { request, context in try await self.call("publish", request, context, bearer: true) }
    }

    struct Failure: Error {
        var code: JWTErrorCode
        var message: String?
    }

    func call(_ method: String, _ request: Request, _ context: SwitchboardContext, bearer: Bool = false) async throws -> Response {
        let caller = Caller(request: request, context: context)
        var key = request.headers[HTTPField.Name("X-API-Key")!]
        if key == nil, let header = request.headers[.authorization], header.lowercased().hasPrefix("apikey ") {
            key = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        if key == nil, bearer, let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            key = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        let app: App
        switch self.environment.gate.admitServer(secret: key, caller: caller, request: request) {
        case .success(let found): app = found
        case .failure(let refusal):
            self.environment.gate.report(refusal, caller: caller)
            return Self.error(refusal.status, JWTErrorCode.unauthorized, message: refusal.message)
        }
        let single = app.plan.maxMessageBytes * 4 + 16 * 1024
        let limit = method == "batch" || method == "legacy" ? single * JWTServerBatch.bodyFactor : single
        let body: JSONObject
        do {
            let bytes = try await request.body.collect(upTo: limit)
            if method == "legacy" {
                guard let commands = Self.legacyCommands(bytes) else { throw Failure(code: .badRequest, message: nil) }
                return JSONResponse.make(.ok, await self.legacy(commands, app: app, caller: caller))
            }
            body = bytes.readableBytes == 0 ? try JSONObject(parsing: ByteBuffer(string: "{}")) : try JSONObject(parsing: bytes)
        } catch {
            self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "\(method): unreadable body")
            // Centrifugo answers a body it cannot decode with HTTP 400; invalid UTF-8 is refused here too.
            return Self.error(.badRequest, .badRequest, message: "the body must be a JSON object of valid UTF-8 within the size limit")
        }
        if method == "batch" { return await self.batch(body, app: app, caller: caller) }
        do {
            let result = try await self.run(method, body: body, app: app)
            return JSONResponse.make { json in
                json.beginObject()
                json.key("result")
                json.raw(result)
                json.endObject()
            }
        } catch let failure as Failure {
            if failure.code == .badRequest {
                self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "\(method): \(failure.message ?? "bad request")")
            }
            return Self.error(.ok, failure.code, message: failure.message)
        }
    }

    /// Runs a batch's commands, each as its own method; a command's failure is its own reply.
    func batch(_ body: JSONObject, app: App, caller: Caller) async -> Response {
        let batch: JWTServerBatch
        do {
            batch = try JWTServerBatch(parsing: body, methods: Set(Self.methods))
        } catch {
            self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "batch: \(error.message ?? "bad request")")
            return Self.error(.badRequest, error.code, message: error.message)
        }
        let replies = await self.replies(batch, app: app)
        let bad = replies.filter { if case .error(let failure) = $0 { failure.code == .badRequest } else { false } }.count
        if bad > 0 {
            self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "batch: \(bad) of \(replies.count) commands malformed")
        }
        return JSONResponse.make(.ok, JWTServerBatch.write(replies))
    }

    /// The replies of `batch`'s commands, each run by `run` as its method would be; an unexpected error is 100 internal.
    func replies(_ batch: JWTServerBatch, app: App) async -> [JWTServerBatch.Reply] {
        await batch.run { method, command in
            do {
                return .result(method: method, try await self.run(method, body: command, app: app))
            } catch let failure as Failure {
                return .error(failure)
            } catch {
                return .error(Failure(code: .internal, message: nil))
            }
        }
    }

    static func error(_ status: HTTPResponse.Status, _ code: JWTErrorCode, message: String?) -> Response {
        JSONResponse.make(status) { json in
            json.beginObject()
            json.key("error")
            writeError(code, message: message, to: &json)
            json.endObject()
        }
    }

    static func writeError(_ code: JWTErrorCode, message: String?, to json: inout JSONWriter) {
        json.beginObject()
        json.member("code", code.code)
        json.member("message", message ?? code.message)
        json.endObject()
    }

    func channel(_ body: JSONObject) throws(Failure) -> String {
        guard let channel = body.string("channel"), ChannelName.isValid(channel) else { throw Failure(code: .badRequest, message: "invalid channel") }
        return channel
    }

    func user(_ body: JSONObject) throws(Failure) -> String {
        guard let user = body.string("user") else { throw Failure(code: .badRequest, message: "\"user\" is required") }
        return user
    }

    static func object(_ write: (inout JSONWriter) -> Void = { _ in }) -> ByteBuffer {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        write(&json)
        json.endObject()
        return json.buffer
    }

    /// Runs one method; returns the `result` object's bytes.
    func run(_ method: String, body: JSONObject, app: App) async throws -> ByteBuffer {
        switch method {
        case "publish":
            let channel = try self.channel(body)
            guard let data = body.raw("data") else { throw Failure(code: .badRequest, message: "\"data\" is required") }
            let tags = try JWTPublicationTags(parsing: body)
            let key = try Self.idempotencyKey(body)
            let published = try await self.publish(channel: channel, data: data, tags: tags, key: key, body: body, app: app)
            return Self.object { json in Self.writePosition(published, to: &json) }
        case "broadcast":
            guard let channels = body.strings("channels"), let data = body.raw("data") else {
                throw Failure(code: .badRequest, message: "\"channels\" and \"data\" are required")
            }
            // Centrifugo refuses a broadcast to no channel as a bad request rather than answering with no responses.
            guard !channels.isEmpty else { throw Failure(code: .badRequest, message: "channels required for broadcast") }
            let tags = try JWTPublicationTags(parsing: body)
            // One key for every channel, each channel remembering it on its own, as Centrifugo's broadcast does.
            let key = try Self.idempotencyKey(body)
            var results: [Result<Publication, Failure>] = []
            for channel in channels {
                do {
                    guard ChannelName.isValid(channel) else { throw Failure(code: .badRequest, message: "invalid channel") }
                    results.append(.success(try await self.publish(channel: channel, data: data, tags: tags, key: key, body: body, app: app)))
                } catch let failure as Failure {
                    results.append(.failure(failure))
                }
            }
            return Self.object { json in
                json.key("responses")
                json.beginArray()
                for result in results {
                    json.beginObject()
                    switch result {
                    case .success(let published):
                        json.key("result")
                        json.beginObject()
                        Self.writePosition(published, to: &json)
                        json.endObject()
                    case .failure(let failure):
                        json.key("error")
                        Self.writeError(failure.code, message: failure.message, to: &json)
                    }
                    json.endObject()
                }
                json.endArray()
            }
        case "subscribe", "unsubscribe", "disconnect", "refresh":
            try await self.runOnEveryNode(method, body: body, app: app)
            return Self.object()
        case "presence", "presence_stats":
            let channel = try self.channel(body)
            guard app.policy(for: channel).presence else { throw Failure(code: .notAvailable, message: nil) }
            let members = try await self.bus.members(app: app.id, channel: channel)
            if method == "presence_stats" {
                return Self.object { json in
                    JWTPresence.writeStats(members, to: &json)
                }
            }
            return Self.object { json in
                json.key("presence")
                JWTPresence.write(members, to: &json)
            }
        case "history":
            let channel = try self.channel(body)
            let since = body.object("since").map { JWTConnection.position($0) }
            do {
                let result = try await JWTHistory.query(
                    bus: self.bus,
                    app: app,
                    channel: channel,
                    limit: body.integer("limit") ?? 0,
                    since: since,
                    reverse: body.bool("reverse") ?? false
                )
                return Self.object { json in result.write(to: &json) }
            } catch {
                throw Failure(code: error, message: nil)
            }
        case "history_remove":
            let channel = try self.channel(body)
            try await self.bus.engine.removeHistory(app: app.id, channel: channel)
            return Self.object()
        case "channels":
            var pattern: JWTChannelPattern?
            if let text = body.string("pattern"), !text.isEmpty {
                do {
                    pattern = try JWTChannelPattern(text)
                } catch {
                    throw Failure(code: .badRequest, message: "pattern: \(error)")
                }
            }
            let channels = try await self.bus.openedChannels(app: app.id).filter { entry in pattern?.matches(entry.key) ?? true }
            return Self.object { json in
                json.key("channels")
                json.beginObject()
                for (name, count) in channels.sorted(by: { $0.key < $1.key }) {
                    json.key(name)
                    json.beginObject()
                    json.member("num_clients", count)
                    json.endObject()
                }
                json.endObject()
            }
        case "info":
            let (clients, users) = self.registry.counts(app: app.id)
            let channels = try await self.bus.openedChannels(app: app.id)
            return Self.object { json in
                json.key("nodes")
                json.beginArray()
                json.beginObject()
                json.member("uid", "switchboard")
                json.member("name", "switchboard")
                json.member("version", JWTConnection.version)
                json.member("num_clients", max(clients, self.bus.connectionCount(app: app.id)))
                json.member("num_users", users)
                json.member("num_channels", channels.count)
                json.member("num_subs", channels.values.reduce(0, +))
                json.member("uptime", (WallClock.milliseconds() - self.started) / 1000)
                json.endObject()
                json.endArray()
            }
        default:
            throw Failure(code: .methodNotFound, message: nil)
        }
    }

    /// The request's `idempotency_key`: nil when absent, null or empty (Centrifugo's "no key"); one that is not a string
    /// or is longer than `IdempotencyKey.maxBytes` is 107.
    static func idempotencyKey(_ body: JSONObject) throws(Failure) -> IdempotencyKey? {
        guard body.has("idempotency_key"), !body.isNull("idempotency_key") else { return nil }
        guard let text = body.string("idempotency_key") else { throw Failure(code: .badRequest, message: "idempotency_key must be a string") }
        guard !text.isEmpty else { return nil }
        guard let key = IdempotencyKey(text) else {
            throw Failure(code: .badRequest, message: "idempotency_key is longer than \(IdempotencyKey.maxBytes) bytes")
        }
        return key
    }

    func publish(
        channel: String,
        data: ByteBuffer,
        tags: JWTPublicationTags,
        key: IdempotencyKey?,
        body: JSONObject,
        app: App
    ) async throws -> Publication {
        let publication = Publication(
            app: app.id,
            channel: channel,
            event: tags.event,
            data: data,
            timestamp: WallClock.milliseconds(),
            tags: tags.others
        )
        // `skip_history` delivers without keeping, as Centrifugo does. A delivery kit judges each status against the kept
        // timeline and replays it to new subscribers, which an unkept status would break: there it is refused.
        let skip = body.bool("skip_history") ?? false
        if skip, app.rule(for: channel)?.kit?.kind == .delivery {
            throw Failure(code: .badRequest, message: "skip_history is not available on delivery channels")
        }
        do {
            return try await self.bus.publish(publication, app: app, options: PublishOptions(kept: !skip, idempotencyKey: key))
        } catch let error as BusError {
            switch error {
            case .rateLimited: throw Failure(code: .tooManyRequests, message: nil)
            case .messageTooLarge, .channelLimit, .connectionLimit, .presenceFull, .metadataTooLarge, .monthlyQuota:
                throw Failure(code: .limitExceeded, message: error.message)
            case .invalidChannel: throw Failure(code: .badRequest, message: "invalid channel")
            case .invalidEventName: throw Failure(code: .badRequest, message: EventName.rule)
            case .presenceNotAllowed: throw Failure(code: .notAvailable, message: nil)
            case .kitRefused(let refusal):
                throw Failure(code: refusal.reason == .rateLimited ? .tooManyRequests : .badRequest, message: refusal.message)
            }
        }
    }

    static func writePosition(_ publication: Publication, to json: inout JSONWriter) {
        guard let position = publication.position else { return }
        json.member("offset", position.offset)
        json.member("epoch", position.epoch)
    }
}

import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardAdapterKit
import SwitchboardCore

/// The console's debug transport: watch a channel and publish to it with the admin token alone.
///
/// The console knows no app secret and its own origin need not be one of the app's origins, so these
/// routes sit behind the admin token instead of an app's key, secret and origin list.
struct ConsoleDebugRoutes: Sendable {
    let environment: AdapterEnvironment
    let authorized: AdminAuthorization
    /// Time between keepalive comments on a debug stream (they also notice a client that went away).
    let keepalive: Duration

    var bus: Bus { self.environment.bus }

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/apps/:app/channels/:name/stream") { request, context in
            try await self.authorized(request, context) { try await self.stream(request, context) }
        }
        router.post("/api/realtime/apps/:app/channels/:name/events") { request, context in
            try await self.authorized(request, context) { try await self.publish(request, context) }
        }
    }

    /// The app and channel named in the path; an unknown app is 404, an invalid channel name 400.
    func target(_ request: Request, _ context: SwitchboardContext) throws(AdminError) -> (App, String) {
        guard let id = context.parameters.get("app"), let app = self.bus.apps.app(id: id) else { throw .notFound("no such app") }
        let raw = context.parameters.get("name") ?? ""
        let channel = raw.removingPercentEncoding ?? raw
        guard ChannelName.isValid(channel) else {
            let caller = Caller(request: request, context: context)
            self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "console: invalid channel name")
            throw .badRequest("invalid channel name")
        }
        return (app, channel)
    }

    // MARK: Stream

    /// `text/event-stream` of every message and presence change on the channel until the client goes away.
    func stream(_ request: Request, _ context: SwitchboardContext) async throws -> Response {
        let (app, channel) = try self.target(request, context)
        // Not counted against the app's connection limit: an operator watching must never lock out a client.
        let connectionID = self.bus.makeConnectionID()
        let session = Session(
            connectionID: connectionID,
            app: app,
            encoder: ConsoleDebugEncoder(),
            maxQueuedFrames: self.environment.maxQueuedFrames
        )
        do {
            try await self.bus.subscribe(session, app: app, channel: channel)
        } catch {
            session.close(.normal)
            let caller = Caller(request: request, context: context)
            self.environment.gate.report(.overQuota, app: app.id, caller: caller, detail: "console: cannot subscribe to \(channel): \(error)")
            throw AdminError(status: .forbidden, code: "channel_limit", message: "cannot subscribe to \(channel): \(error)")
        }
        let bus = self.bus
        let keepalive = self.keepalive
        let logger = self.environment.logger
        let body = ResponseBody { writer in
            do {
                try await writer.write(ByteBuffer(string: "retry: 2000\n: subscribed to \(channel)\n\n"))
                try await session.streamEvents(to: &writer, keepalive: keepalive)
            } catch {
                logger.debug("console debug stream ended", metadata: ["error": "\(error)"])
            }
            session.close(.normal)
            await bus.unsubscribe(connectionID, app: app.id, channel: channel)
            try? await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[.accelBuffering] = "no"
        return Response(status: .ok, headers: headers, body: body)
    }

    // MARK: Publish

    /// Publishes `{"event": "…", "data": …}` as the server (no sender, so every subscriber receives it).
    func publish(_ request: Request, _ context: SwitchboardContext) async throws -> Response {
        let (app, channel) = try self.target(request, context)
        let caller = Caller(request: request, context: context)
        let limit = app.plan.maxMessageBytes + 16 * 1024
        guard let bytes = await self.environment.gate.body(of: request, limit: limit, app: app, caller: caller, what: "console publish") else {
            throw AdminError(status: .contentTooLarge, code: "message_too_large", message: "the body is over \(limit) bytes")
        }
        guard let body = try? JSONObject(parsing: bytes), let data = body.raw("data") else {
            self.environment.gate.report(.badRequest, app: app.id, caller: caller, detail: "console: publish body without JSON data")
            throw AdminError.badRequest("send a JSON object with \"data\" and an optional \"event\"")
        }
        let event = body.string("event").flatMap { $0.isEmpty ? nil : $0 }
        let publication = Publication(app: app.id, channel: channel, event: event, data: data, timestamp: WallClock.milliseconds())
        let published: Publication
        do {
            published = try await self.bus.publish(publication, app: app)
        } catch let error as BusError {
            let refused = Self.refusal(for: error)
            if let kind = refused.kind { self.environment.gate.report(kind, app: app.id, caller: caller, detail: "console: \(refused.message)") }
            throw AdminError(status: refused.status, code: refused.code, message: refused.message)
        } catch let unavailable as EngineUnavailable {
            throw AdminError(status: .serviceUnavailable, code: "engine_unavailable", message: "\(unavailable); try again shortly")
        }
        return JSONResponse.published(published)
    }

    /// The status, error code and security event kind of a publish the bus refused: the JSON APIs' shared mapping.
    static func refusal(for error: BusError) -> (status: HTTPResponse.Status, code: String, message: String, kind: SecurityEvent.Kind?) {
        (error.httpStatus, error.errorCode, error.message, error.securityKind)
    }
}

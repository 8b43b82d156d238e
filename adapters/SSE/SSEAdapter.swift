public import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
public import SwitchboardAdapterKit
import SwitchboardCore

/// Server-Sent Events at `GET /sse?key=…&channel=A&channel=B[&token=…]`.
///
/// Each message carries an `id:` naming the last offset of every channel in the stream, so a standard
/// EventSource resumes all of them with `Last-Event-ID`. A comment line keeps proxies from timing out.
///
/// A stream opened with a token lasts no longer than the token: it ends when the token expires or its signing key is
/// revoked (see ``SSEStreamGrant``), when the app is disabled, and on shutdown.
public struct SSEAdapter: ProtocolAdapter {
    public let name = "sse"
    /// Where streams open.
    public static let path = "/sse"
    let environment: AdapterEnvironment
    /// Time between keepalive comments; nil reads `[limits] sse_keepalive_seconds` as it is when each stream starts.
    let keepalive: Duration?
    /// Most channels one stream may carry.
    let maxChannels = 100
    /// The most bytes the channel names of one stream may take together: every message's `id:` names them all, so long
    /// names on many channels made a small message cost 20 KB a stream (a 680-fold amplification).
    let maxChannelNameBytes = 4_096

    /// Creates the adapter; without `keepalive`, each new stream takes the environment's `sse_keepalive_seconds`,
    /// so a SIGHUP reload that changes it applies to the streams that start after it.
    public init(environment: AdapterEnvironment, keepalive: Duration? = nil) {
        self.environment = environment
        self.keepalive = keepalive
    }

    public func register(http: Router<SwitchboardContext>, webSocket: Router<SwitchboardContext>) {
        http.get(RouterPath(Self.path)) { request, context in try await self.stream(request, context) }
        http.on(RouterPath(Self.path), method: .options) { request, context in
            let caller = Caller(request: request, context: context)
            let app: App
            switch self.admit(request, caller: caller) {
            case .success(let admitted): app = admitted
            case .failure(let refused): return refused.response
            }
            var headers = Self.cors(app: app, caller: caller)
            headers[.accessControlAllowMethods] = "GET, OPTIONS"
            headers[.accessControlAllowHeaders] = "Last-Event-ID, Cache-Control"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
    }

    /// CORS headers allowing the caller's origin when the app does (the gate already refused others).
    static func cors(app: App, caller: Caller) -> HTTPFields {
        var headers = HTTPFields()
        if let origin = caller.origin {
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowCredentials] = "true"
            headers[.vary] = "Origin"
        }
        return headers
    }

    /// The app a stream or its CORS preflight is for; a caller over its rate, an unknown key, a disabled app or a
    /// blocked origin gets the gate's answer and leaves a security event, whichever of the two requests it sent.
    func admit(_ request: Request, caller: Caller) -> Result<App, RefusedRequest> {
        if let refusal = self.environment.gate.throttle(caller) {
            self.environment.gate.report(refusal, caller: caller)
            let response = JSONResponse.error(refusal.status, code: refusal.kind.name, message: refusal.message, headers: [.retryAfter: "1"])
            return .failure(RefusedRequest(response: response))
        }
        switch self.environment.gate.admit(request: request, caller: caller) {
        case .success(let app): return .success(app)
        case .failure(let refusal):
            self.environment.gate.report(refusal, caller: caller)
            return .failure(RefusedRequest(response: JSONResponse.error(refusal.status, code: refusal.kind.name, message: refusal.message)))
        }
    }

    /// A refused request's answer, as a `Result` failure.
    struct RefusedRequest: Error {
        let response: Response
    }

    func refuse(_ status: HTTPResponse.Status, _ kind: SecurityEvent.Kind, _ message: String, app: App?, caller: Caller) -> Response {
        self.environment.gate.report(kind, app: app?.id, caller: caller, detail: message)
        return JSONResponse.error(status, code: kind.name, message: message, headers: app.map { Self.cors(app: $0, caller: caller) } ?? [:])
    }

    func stream(_ request: Request, _ context: SwitchboardContext) async throws -> Response {
        let caller = Caller(request: request, context: context)
        let app: App
        switch self.admit(request, caller: caller) {
        case .success(let admitted): app = admitted
        case .failure(let refused): return refused.response
        }
        // Each name once, in order; past the most a stream may hold the request is refused before reading further, so
        // a long list costs no more than the allowed one.
        var channels: [String] = []
        var seen: Set<String> = []
        for value in request.uri.queryParameters.getAll("channel") where seen.insert(String(value)).inserted {
            guard channels.count < self.maxChannels else {
                return self.refuse(.badRequest, .badRequest, "at most \(self.maxChannels) channels per stream", app: app, caller: caller)
            }
            channels.append(String(value))
        }
        guard !channels.isEmpty else { return self.refuse(.badRequest, .badRequest, "name at least one channel", app: app, caller: caller) }
        guard channels.reduce(0, { $0 + $1.utf8.count }) <= self.maxChannelNameBytes else {
            let message = "the channel names of a stream may take \(self.maxChannelNameBytes) bytes together"
            return self.refuse(.badRequest, .badRequest, message, app: app, caller: caller)
        }
        if let invalid = channels.first(where: { !ChannelName.isValid($0) }) {
            return self.refuse(.badRequest, .badRequest, "invalid channel name \(invalid)", app: app, caller: caller)
        }
        for channel in channels {
            if let denial = ChannelAccess.denial(.subscribe, channel: channel) {
                return self.refuse(.forbidden, .forbidden, "\(channel): \(denial)", app: app, caller: caller)
            }
        }
        if let limit = app.plan.maxSubscriptionsPerConnection, channels.count > limit {
            return self.refuse(.forbidden, .overQuota, "the app's plan allows \(limit) channels per connection", app: app, caller: caller)
        }
        let grant: SSEStreamGrant?
        switch self.authorize(channels, request: request, app: app, caller: caller) {
        case .granted(let granted): grant = granted
        case .refused(let refusal): return refusal
        }

        let encoder = SSEEncoder()
        // Given back when the stream ends, or when this request is dropped before it starts (the hold's deinit).
        let perAddress = self.environment.limits.current.maxConnectionsPerIP
        guard let address = self.environment.holdAddress(of: caller, app: app.id, limit: perAddress) else {
            let message = "more than \(perAddress) open connections from this address"
            var headers = Self.cors(app: app, caller: caller)
            headers[.retryAfter] = "5"
            return JSONResponse.error(.tooManyRequests, code: SecurityEvent.Kind.rateLimited.name, message: message, headers: headers)
        }
        let connectionID: ConnectionID
        do {
            connectionID = try self.environment.bus.connect(app: app, via: encoder.protocolName)
        } catch {
            return self.refuse(.tooManyRequests, .overQuota, "the app's connection limit is reached", app: app, caller: caller)
        }
        let session = Session(
            connectionID: connectionID,
            app: app,
            encoder: encoder,
            maxQueuedFrames: self.environment.maxQueuedFrames,
            maxQueuedBytes: self.environment.clientLimits.maxQueuedBytes,
            // Written from its connection's loop, the session takes broadcasts there too.
            eventLoop: context.eventStream == nil ? nil : context.channel.eventLoop
        )
        let resumeText = request.headers[.lastEventID] ?? request.uri.queryParameters["lastEventId"].map(String.init)
        let resume = resumeText.map(SSECursor.parse) ?? [:]
        var cursor = SSECursor(channels: channels)
        var subscribed: [String] = []
        // Resumed channels catch up once the stream is open, in pages its client reads (`Session.catchUp`).
        var catchUps: [(channel: String, after: UInt64, latest: UInt64)] = []
        for channel in channels {
            session.beginRecovery(channel: channel)
            do {
                try await self.environment.bus.subscribe(session, app: app, channel: channel)
                subscribed.append(channel)
            } catch {
                session.close(.normal)
                for channel in subscribed { await self.environment.bus.unsubscribe(connectionID, app: app.id, channel: channel) }
                self.environment.bus.disconnect(app: app.id, via: encoder.protocolName)
                let limit = (error as? BusError).map { "\($0)" } ?? "\(error)"
                return self.refuse(.forbidden, .overQuota, "cannot subscribe to \(channel): \(limit)", app: app, caller: caller)
            }
            let requested = resume[channel]
            let page = try? await self.environment.bus.history(app: app, channel: channel, after: nil, limit: 0)
            let latest = page?.latest?.offset ?? 0
            if let requested {
                // A cursor ahead of the stream saw another run of it (a new epoch): everything kept is new to the client.
                let after = requested <= latest ? requested : 0
                catchUps.append((channel, after, latest))
                cursor.advance(channel, to: after)
            } else {
                session.finishRecovery(channel: channel, after: latest, history: [])
                // A channel that keeps history is named in the cursor even before its first message (`=0`), so a
                // resume replays what was published to it while the client was away instead of starting live.
                if page?.latest != nil || app.policy(for: channel).history.size > 0 { cursor.advance(channel, to: latest) }
            }
        }

        var headers = Self.cors(app: app, caller: caller)
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[.accelBuffering] = "no"
        let stream = SSEStream(
            session: session,
            keepalive: self.keepalive ?? .seconds(self.environment.limits.current.sseKeepaliveSeconds),
            environment: self.environment,
            caller: caller,
            grant: grant,
            address: address,
            lease: SSEStreamLease(bus: self.environment.bus, session: session, channels: channels),
            cursor: cursor,
            catchUps: catchUps
        )
        // The edge's HTTP/1.1 transport writes the stream from the connection's event loop; elsewhere, the body does.
        if let slot = context.eventStream {
            slot.set(stream)
            return Response(status: .ok, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: Self.body(of: stream, on: context.channel, logger: self.environment.logger))
    }

    /// The stream as a response body, written from the body's task (h2): the client's going ends it at once, and a
    /// write stuck longer than `streamEvents` allows closes the stream.
    static func body(of stream: SSEStream, on socket: any Channel, logger: Logger) -> ResponseBody {
        ResponseBody { writer in
            let session = stream.session
            stream.began(on: socket.eventLoop)
            do {
                try await SSEClientWatch.watching(socket, gone: { session.close(.normal) }) {
                    try await writer.write(stream.opening())
                    let append: (inout ByteBuffer, inout OutgoingFrame) -> Void = { batch, frame in stream.append(frame, to: &batch) }
                    try await session.streamEvents(to: &writer, keepalive: stream.keepalive, abort: { socket.close(promise: nil) }, append: append)
                }
            } catch {
                logger.debug("SSE stream ended", metadata: ["error": "\(error)"])
            }
            stream.ended()
            try? await writer.finish(nil)
        }
    }

    /// Ends `session` after telling the client why with an `unauthorized` event.
    static func end(_ session: Session, _ ending: SSEStreamGrant.Ending) {
        session.close(.normal, farewell: SSEStreamGrant.notice(ending))
    }

    /// The outcome of checking a stream's token.
    enum Authorization {
        /// The stream may open; with a token, it lasts as long as the grant.
        case granted(SSEStreamGrant?)
        /// The answer to send instead of a stream.
        case refused(Response)
    }

    /// Checks the stream's token, when it has one or needs one.
    ///
    /// Private and token-required channels must be listed in the token's `channels` (or `channel`) claim. A token that
    /// carries `permissions` must list `subscribe` in it, whatever the channels (403 `forbidden`): `permissions` narrows
    /// what the token allows, it never adds channels. A token given for public channels only is checked all the same
    /// (a bad or expired one is 401), and the stream then lasts as long as the token.
    func authorize(_ channels: [String], request: Request, app: App, caller: Caller) -> Authorization {
        let protected = channels.filter { app.policy(for: $0).requireToken }
        guard let token = request.uri.queryParameters["token"].map(String.init), !token.isEmpty else {
            guard let first = protected.first else { return .granted(nil) }
            return .refused(self.refuse(.unauthorized, .tokenInvalid, "\(first) needs a token", app: app, caller: caller))
        }
        let claims: HMACToken.Claims
        do {
            claims = try HMACToken.verify(token, secrets: app.secrets, now: WallClock.milliseconds() / 1000)
        } catch .expired {
            return .refused(self.refuse(.unauthorized, .tokenExpired, "the token has expired", app: app, caller: caller))
        } catch {
            return .refused(self.refuse(.unauthorized, .tokenInvalid, "invalid token", app: app, caller: caller))
        }
        if let permissions = claims.permissions, !permissions.contains("subscribe") {
            return .refused(self.refuse(.forbidden, .forbidden, "the token does not allow subscribe", app: app, caller: caller))
        }
        let allowed = Set(claims.channels + (claims.channel.map { [$0] } ?? []))
        if let denied = protected.first(where: { !allowed.contains($0) }) {
            return .refused(self.refuse(.forbidden, .forbidden, "the token does not grant \(denied)", app: app, caller: caller))
        }
        return .granted(SSEStreamGrant(signer: claims.signer, expiresAt: claims.expiresAt))
    }
}

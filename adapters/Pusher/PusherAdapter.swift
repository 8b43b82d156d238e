public import Hummingbird
import HummingbirdWebSocket
import NIOCore
public import SwitchboardAdapterKit
import SwitchboardCore

/// Pusher Channels: WebSocket protocol 5–7 at `/app/{key}` and the HTTP API under `/apps/{app_id}`.
///
/// pusher-js, Laravel Echo, pysher and the official server libraries work unchanged: point them at this
/// host and port. Events reach every other protocol through the bus, with the mapping in DESIGN.md.
///
/// ```swift
/// let webhooks = PusherWebhooks(apps: environment.bus.apps, logger: logger)
/// let adapter = PusherAdapter(environment: environment, webhooks: webhooks)
/// adapter.register(http: router, webSocket: webSocketRouter)
/// app.addServices(webhooks)
/// ```
public struct PusherAdapter: ProtocolAdapter {
    public let name = "pusher"
    /// The protocol versions accepted (pysher sends 6, pusher-js 7).
    public static let protocolVersions = 5...7
    let context: PusherContext

    /// Creates the adapter; with `webhooks`, the apps' webhooks are queued there.
    public init(environment: AdapterEnvironment, webhooks: PusherWebhooks? = nil, limits: PusherContext.Limits = .init()) {
        self.context = PusherContext(environment: environment, webhooks: webhooks, limits: limits)
    }

    var environment: AdapterEnvironment { self.context.environment }

    public func register(http: Router<SwitchboardContext>, webSocket: Router<SwitchboardContext>) {
        self.context.attach()
        let gate = self.environment.gate
        // Upgrade every request but a refused origin: the client learns of a bad key or a disabled app from
        // `pusher:error` (4001, 4003) and the close code, as Pusher does it. A refused origin gets 403 JSON.
        webSocket.socket("/app/{key}") { request, context in
            let caller = Caller(request: request, context: context)
            if let refusal = gate.throttle(caller) { return await gate.decline(refusal, caller: caller, context: context) }
            let admitted = gate.admit(request: request, caller: caller, pathKey: Self.pathKey(request))
            if case .failure(let refusal) = admitted, refusal.kind == .originBlocked {
                return await gate.decline(refusal, caller: caller, context: context)
            }
            return .upgrade(self.environment.webSocketCompression.upgradeHeaders(request, app: try? admitted.get(), channel: context.channel))
        } open: { request, context, link in
            self.open(request: request, context: context, link: link)
        }
        http.get("/app/{key}") { request, context -> Response in
            let caller = Caller(request: request, context: context)
            if case .failure(let refusal) = gate.admit(request: request, caller: caller, pathKey: Self.pathKey(request)) {
                gate.report(refusal, caller: caller)
                return JSONResponse.error(refusal.status, code: refusal.kind.name, message: refusal.message)
            }
            return JSONResponse.error(.upgradeRequired, code: "bad_request", message: "this route needs a WebSocket upgrade")
        }
        let api = PusherHTTPAPI(context: self.context)
        api.register(on: http)
        api.listenToOtherNodes()
    }

    /// The `{key}` of `/app/{key}`.
    static func pathKey(_ request: Request) -> String {
        let parts = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "app" else { return "" }
        return String(parts[1])
    }

    /// Opens an upgraded connection: a bad key, a disabled app, an unknown protocol version or a full plan is told
    /// over the socket (`pusher:error`, then the same close code), as Pusher does it.
    func open(request: Request, context: SwitchboardContext, link: any WebSocketLink) -> WebSocketOpening {
        let caller = Caller(request: request, context: context)
        let gate = self.environment.gate
        let app: App
        switch gate.admit(request: request, caller: caller, pathKey: Self.pathKey(request)) {
        case .success(let admitted):
            app = admitted
        case .failure(let refusal):
            gate.report(refusal, caller: caller)
            let code: PusherErrorCode = refusal.kind == .appDisabled ? .appDisabled : refusal.kind == .unknownKey ? .appDoesNotExist : .unauthorized
            return Self.refuse(code, refusal.message)
        }
        if let code = Self.checkProtocol(request.uri.queryParameters["protocol"].map(String.init)) {
            gate.report(.badRequest, app: app.id, caller: caller, detail: "pusher: \(code.message)")
            return Self.refuse(code, nil)
        }
        guard let opened = self.environment.openConnection(app: app, caller: caller, encoder: PusherEncoder(), channel: context.channel) else {
            return Self.refuse(.overConnectionQuota, nil)
        }
        let session = opened.session
        let connection = PusherConnection(
            session: session,
            socketID: PusherConnection.makeSocketID(session.connectionID),
            context: self.context,
            caller: caller
        )
        self.context.registry.add(connection)
        connection.established()
        // The edge announces shutdown before the server closes sockets, so 4200 goes out first.
        // A revoked key ends the subscriptions (4009) or the sign-in (4200) it signed (PusherConnection+Revocation).
        let goodbye = self.environment.shutdown.register(app: app.id, caller: caller, revoked: { await connection.revoke($0) }) { farewell in
            switch farewell {
            case .shutdown: connection.terminate(.reconnect, "the server is restarting; reconnect", end: .shutdown)
            case .appDisabled: connection.terminate(.appDisabled, "the app was disabled")
            case .addressBlocked: connection.terminate(.unauthorized, "this address is blocked")
            }
        }
        // Pings the client when it falls silent and ends the connection when it stays so.
        let delay: @Sendable () -> Duration? = { connection.heartbeat().map { .milliseconds(max(10, $0 - PusherConnection.now())) } }
        if let first = delay() { link.schedule(after: first, delay) }
        return .endpoint(LeasedEndpoint(connection: connection, lease: EndpointLease(opened: opened, goodbye: goodbye, caller: caller)))
    }

    /// The error for a `protocol` query value, or nil when it is one this server speaks.
    static func checkProtocol(_ value: String?) -> PusherErrorCode? {
        guard let value, !value.isEmpty else { return .noProtocol }
        guard let version = Int(value) else { return .invalidVersion }
        return Self.protocolVersions.contains(version) ? nil : .unsupportedProtocol
    }

    /// `pusher:error` on a connection that never got going, closed with the same code.
    static func refuse(_ code: PusherErrorCode, _ message: String?) -> WebSocketOpening {
        .refuse(frames: [PusherReply.error(code, message)], code: UInt16(code.code), reason: code.message)
    }
}

/// A Pusher connection as its WebSocket transport drives it.
extension PusherConnection: SocketConnection {
    public func read(_ message: ByteBuffer) async -> Bool {
        await self.receive(message)
        // Once the server has ended the connection, what the client still sends is not read.
        return self.closeCode == nil && self.session.end == nil
    }

    public func closeFrame() -> (code: UInt16, reason: String?) {
        if let code = self.closeCode { return (UInt16(code.code), code.message) }
        if self.session.end == .tooSlow { return (UInt16(PusherErrorCode.overCapacity.code), "too slow") }
        return (1000, nil)
    }

    public func socketClosed() async {
        await self.closed()
        self.context.registry.remove(self)
    }
}

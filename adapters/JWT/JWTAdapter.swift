public import Hummingbird
import HummingbirdWebSocket
import NIOCore
public import SwitchboardAdapterKit
import SwitchboardCore

/// The JWT protocol (Centrifugo v2 JSON): WebSocket at `/connection/websocket` (and `/realtime/connection/websocket`),
/// server API at `POST /api/{method}` and `POST /api/realtime/publish`.
///
/// ```swift
/// let adapter = JWTAdapter(environment: environment)
/// adapter.register(http: router, webSocket: webSocketRouter)
/// ```
public struct JWTAdapter: ProtocolAdapter {
    public let name = "jwt"
    let environment: AdapterEnvironment
    let registry: JWTRegistry

    /// The WebSocket paths clients connect to.
    public static let paths = ["/connection/websocket", "/realtime/connection/websocket"]

    /// Creates the adapter.
    public init(environment: AdapterEnvironment, registry: JWTRegistry = JWTRegistry()) {
        self.environment = environment
        self.registry = registry
    }

    public func register(http: Router<SwitchboardContext>, webSocket: Router<SwitchboardContext>) {
        let gate = self.environment.gate
        for path in Self.paths {
            // A refused origin is declined with 403 JSON and its security event, as on every protocol's upgrade. An
            // unknown key or a disabled app is upgraded and told with a Centrifugo disconnect (`open`), which a client
            // does not retry: a declined handshake would only be retried for ever.
            webSocket.socket(RouterPath(path)) { request, context in
                let caller = Caller(request: request, context: context)
                if let refusal = gate.throttle(caller) { return await gate.decline(refusal, caller: caller, context: context) }
                let admitted = gate.admit(request: request, caller: caller)
                if case .failure(let refusal) = admitted, refusal.kind == .originBlocked {
                    return await gate.decline(refusal, caller: caller, context: context)
                }
                return .upgrade(self.environment.webSocketCompression.upgradeHeaders(request, app: try? admitted.get(), channel: context.channel))
            } open: { request, context, link in
                self.open(request: request, context: context, link: link)
            }
            http.get(RouterPath(path)) { request, context -> Response in
                let caller = Caller(request: request, context: context)
                if case .failure(let refusal) = gate.admit(request: request, caller: caller) {
                    gate.report(refusal, caller: caller)
                    return JSONResponse.make(refusal.status) { json in
                        json.beginObject()
                        json.key("error")
                        json.beginObject()
                        json.member("code", JWTErrorCode.unauthorized.code)
                        json.member("message", refusal.message)
                        json.endObject()
                        json.endObject()
                    }
                }
                return JSONResponse.make(.upgradeRequired) { json in
                    json.beginObject()
                    json.key("error")
                    json.beginObject()
                    json.member("code", JWTErrorCode.badRequest.code)
                    json.member("message", "this route needs a WebSocket upgrade")
                    json.endObject()
                    json.endObject()
                }
            }
        }
        let api = JWTServerAPI(environment: self.environment, registry: self.registry)
        api.register(on: http)
        api.listenToOtherNodes()
    }

    /// Opens an upgraded connection; the client's `connect` command (with its token) follows as a message.
    func open(request: Request, context: SwitchboardContext, link: any WebSocketLink) -> WebSocketOpening {
        let caller = Caller(request: request, context: context)
        let app: App
        switch self.environment.gate.admit(request: request, caller: caller) {
        case .success(let admitted): app = admitted
        case .failure(let refusal):
            self.environment.gate.report(refusal, caller: caller)
            let disconnect = refusal.kind == .appDisabled ? JWTDisconnect.appDisabled : .unknownApp
            return .refuse(frames: [], code: UInt16(disconnect.code), reason: disconnect.reason)
        }
        guard let opened = self.environment.openConnection(app: app, caller: caller, encoder: JWTEncoder(app: app), channel: context.channel) else {
            return .refuse(frames: [], code: UInt16(JWTDisconnect.connectionLimit.code), reason: JWTDisconnect.connectionLimit.reason)
        }
        let session = opened.session
        let connection = JWTConnection(
            session: session,
            clientID: "c\(session.connectionID.raw)-\(UInt32.random(in: 0...UInt32.max))",
            environment: self.environment,
            caller: caller,
            registry: self.registry
        )
        // The edge announces shutdown before the server closes sockets, so the 3001 close goes out first.
        // A revoked key ends the connection (3014) or the subscriptions (2502) it signed (JWTConnection+Revocation).
        let goodbye = self.environment.shutdown.register(app: app.id, caller: caller, revoked: { await connection.revoke($0) }) { farewell in
            connection.disconnect(farewell == .shutdown ? .shutdown : .forceNoReconnect)
        }
        // Pings, pong and token deadlines, checked once a second.
        link.schedule(after: .seconds(1)) {
            guard session.end == nil else { return nil }
            connection.tick()
            return .seconds(1)
        }
        return .endpoint(LeasedEndpoint(connection: connection, lease: EndpointLease(opened: opened, goodbye: goodbye, caller: caller)))
    }
}

/// A JWT-protocol connection as its WebSocket transport drives it.
extension JWTConnection: SocketConnection {
    public func read(_ message: ByteBuffer) async -> Bool {
        await self.receive(message)
        return self.disconnectReason == nil
    }

    public func closeFrame() -> (code: UInt16, reason: String?) {
        let reason: JWTDisconnect
        switch self.session.end {
        case .tooSlow: reason = .slow
        case .shutdown: reason = .shutdown
        case .policyViolation: reason = self.disconnectReason ?? .badRequest
        case .normal, nil: reason = self.disconnectReason ?? .connectionClosed
        }
        return (UInt16(reason.code), reason.reason)
    }

    public func socketClosed() async { await self.closed() }
}

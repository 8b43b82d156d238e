public import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
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
            // Upgrade requests: refusals only decline here; the HTTP route below answers and reports them.
            webSocket.ws(RouterPath(path)) { request, context in
                let caller = Caller(request: request, context: context)
                if let refusal = gate.throttle(caller) { return await gate.decline(refusal, caller: caller, context: context) }
                guard case .success(let app) = gate.admit(request: request, caller: caller) else { return .dontUpgrade }
                return .upgrade(self.environment.webSocketCompression.upgradeHeaders(request, app: app, channel: context.channel))
            } onUpgrade: { inbound, outbound, context in
                try await self.serve(inbound: inbound, outbound: outbound, request: context.request, context: context.requestContext)
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
        JWTServerAPI(environment: self.environment, registry: self.registry).register(on: http)
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, context: SwitchboardContext) async throws {
        let caller = Caller(request: request, context: context)
        guard case .success(let app) = self.environment.gate.admit(request: request, caller: caller) else { return }
        guard
            let opened = self.environment.openConnection(
                app: app,
                caller: caller,
                encoder: JWTEncoder(app: app),
                channel: context.channel
            )
        else {
            try await outbound.close(.init(codeNumber: Int(JWTDisconnect.connectionLimit.code)), reason: JWTDisconnect.connectionLimit.reason)
            return
        }
        defer { opened.close() }
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
        let goodbye = self.environment.shutdown.register(app: app.id, revoked: { await connection.revoke($0) }) { farewell in
            connection.disconnect(farewell == .shutdown ? .shutdown : .forceNoReconnect)
        }
        defer { self.environment.shutdown.unregister(goodbye) }

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await Self.drain(session, connection: connection, channel: context.channel, to: outbound) }
                group.addTask {
                    while session.end == nil {
                        do { try await Task.sleep(for: .seconds(1)) } catch { return }
                        connection.tick()
                    }
                }
                await inbound.receiveMessages(
                    maxSize: app.plan.maxMessageBytes + 64 * 1024,
                    logger: self.environment.logger,
                    outbound: outbound,
                    violated: self.environment.gate.reportViolations(app: app.id, caller: caller, connection: session.connectionID)
                ) { bytes in
                    await connection.receive(bytes)
                    return connection.disconnectReason == nil
                }
                session.close(.normal)
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            connection.disconnect(.shutdown)
        }
        await connection.closed()
    }

    /// Writes everything the session queues until it ends, then closes the socket with the connection's disconnect code.
    static func drain(_ session: Session, connection: JWTConnection, channel: any Channel, to outbound: WebSocketOutboundWriter) async {
        do {
            await WebSocketSessionWriter.run(session, channel: channel)
            let reason: JWTDisconnect
            switch session.end {
            case .tooSlow: reason = .slow
            case .shutdown: reason = .shutdown
            case .policyViolation: reason = connection.disconnectReason ?? .badRequest
            case .normal, nil: reason = connection.disconnectReason ?? .connectionClosed
            }
            try await outbound.close(.init(codeNumber: Int(reason.code)), reason: reason.reason)
        } catch {
            session.close(.normal)
        }
    }
}

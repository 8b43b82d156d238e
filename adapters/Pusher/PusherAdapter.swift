public import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
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
        webSocket.ws("/app/{key}") { request, context in
            let caller = Caller(request: request, context: context)
            if let refusal = gate.throttle(caller) { return await gate.decline(refusal, caller: caller, context: context) }
            let admitted = gate.admit(request: request, caller: caller, pathKey: Self.pathKey(request))
            if case .failure(let refusal) = admitted, refusal.kind == .originBlocked {
                return await gate.decline(refusal, caller: caller, context: context)
            }
            return .upgrade(self.environment.webSocketCompression.upgradeHeaders(request, app: try? admitted.get(), channel: context.channel))
        } onUpgrade: { inbound, outbound, context in
            await self.serve(inbound: inbound, outbound: outbound, request: context.request, context: context.requestContext)
        }
        http.get("/app/{key}") { request, context -> Response in
            let caller = Caller(request: request, context: context)
            if case .failure(let refusal) = gate.admit(request: request, caller: caller, pathKey: Self.pathKey(request)) {
                gate.report(refusal, caller: caller)
                return JSONResponse.error(refusal.status, code: refusal.kind.name, message: refusal.message)
            }
            return JSONResponse.error(.upgradeRequired, code: "bad_request", message: "this route needs a WebSocket upgrade")
        }
        PusherHTTPAPI(context: self.context).register(on: http)
    }

    /// The `{key}` of `/app/{key}`.
    static func pathKey(_ request: Request) -> String {
        let parts = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "app" else { return "" }
        return String(parts[1])
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, context: SwitchboardContext) async {
        let caller = Caller(request: request, context: context)
        let gate = self.environment.gate
        let app: App
        switch gate.admit(request: request, caller: caller, pathKey: Self.pathKey(request)) {
        case .success(let admitted):
            app = admitted
        case .failure(let refusal):
            gate.report(refusal, caller: caller)
            let code: PusherErrorCode = refusal.kind == .appDisabled ? .appDisabled : refusal.kind == .unknownKey ? .appDoesNotExist : .unauthorized
            return await Self.refuse(code, refusal.message, outbound: outbound)
        }
        if let code = Self.checkProtocol(request.uri.queryParameters["protocol"].map(String.init)) {
            gate.report(.badRequest, app: app.id, caller: caller, detail: "pusher: \(code.message)")
            return await Self.refuse(code, nil, outbound: outbound)
        }
        guard
            let opened = self.environment.openConnection(
                app: app,
                caller: caller,
                encoder: PusherEncoder(),
                channel: context.channel
            )
        else {
            return await Self.refuse(.overConnectionQuota, nil, outbound: outbound)
        }
        defer { opened.close() }
        let session = opened.session
        let connection = PusherConnection(
            session: session,
            socketID: PusherConnection.makeSocketID(session.connectionID),
            context: self.context,
            caller: caller
        )
        self.context.registry.add(connection)
        defer { self.context.registry.remove(connection) }
        connection.established()
        // The edge announces shutdown before the server closes sockets, so 4200 goes out first.
        // A revoked key ends the subscriptions (4009) or the sign-in (4200) it signed (PusherConnection+Revocation).
        let goodbye = self.environment.shutdown.register(app: app.id, revoked: { await connection.revoke($0) }) { farewell in
            switch farewell {
            case .shutdown: connection.terminate(.reconnect, "the server is restarting; reconnect", end: .shutdown)
            case .appDisabled: connection.terminate(.appDisabled, "the app was disabled")
            }
        }
        defer { self.environment.shutdown.unregister(goodbye) }

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await Self.drain(session, connection: connection, channel: context.channel, to: outbound) }
                await withTaskGroup(of: Void.self) { keepalive in
                    keepalive.addTask { await Self.keepAlive(connection) }
                    await inbound.receiveMessages(
                        maxSize: app.plan.maxMessageBytes + 64 * 1024,
                        logger: self.environment.logger,
                        outbound: outbound,
                        violated: self.environment.gate.reportViolations(app: app.id, caller: caller, connection: session.connectionID)
                    ) { bytes in
                        await connection.receive(bytes)
                        // Once the server has ended the connection, what the client still sends is not read.
                        return connection.closeCode == nil && session.end == nil
                    }
                    keepalive.cancelAll()
                }
                session.close(.normal)
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            connection.terminate(.reconnect, "the server is restarting; reconnect", end: .shutdown)
        }
        await connection.closed()
    }

    /// The error for a `protocol` query value, or nil when it is one this server speaks.
    static func checkProtocol(_ value: String?) -> PusherErrorCode? {
        guard let value, !value.isEmpty else { return .noProtocol }
        guard let version = Int(value) else { return .invalidVersion }
        return Self.protocolVersions.contains(version) ? nil : .unsupportedProtocol
    }

    /// Sends `pusher:error` on a connection that never got going, and closes with the same code.
    static func refuse(_ code: PusherErrorCode, _ message: String?, outbound: WebSocketOutboundWriter) async {
        try? await outbound.write(.custom(.text(PusherReply.error(code, message))))
        try? await outbound.close(.init(codeNumber: code.code), reason: code.message)
    }

    /// Pings the client when it falls silent and ends the connection when it stays so; cancelled when the socket ends.
    static func keepAlive(_ connection: PusherConnection) async {
        while !Task.isCancelled, let wake = connection.heartbeat() {
            let delay = max(10, wake - PusherConnection.now())
            do {
                try await Task.sleep(for: .milliseconds(delay))
            } catch {
                return
            }
        }
    }

    /// Writes everything the session queues until it ends, then closes the socket with the matching code.
    static func drain(_ session: Session, connection: PusherConnection, channel: any Channel, to outbound: WebSocketOutboundWriter) async {
        do {
            await WebSocketSessionWriter.run(session, channel: channel)
            if let code = connection.closeCode {
                try await outbound.close(.init(codeNumber: code.code), reason: code.message)
            } else if session.end == .tooSlow {
                try await outbound.close(.init(codeNumber: PusherErrorCode.overCapacity.code), reason: "too slow")
            } else {
                try await outbound.close(.normalClosure, reason: nil)
            }
        } catch {
            session.close(.normal)
        }
    }
}

extension WebSocketFrame {
    /// A final text frame carrying `bytes`.
    static func text(_ bytes: ByteBuffer) -> WebSocketFrame { WebSocketFrame(fin: true, opcode: .text, data: bytes) }
}

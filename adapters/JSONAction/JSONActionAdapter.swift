public import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
public import SwitchboardAdapterKit
import SwitchboardCore

/// The JSON-action protocol (Maravilla style): WebSocket at `/_rt/ws`, server REST API under `/_rt/api`.
public struct JSONActionAdapter: ProtocolAdapter {
    public let name = "jsonaction"
    let environment: AdapterEnvironment

    /// Creates the adapter.
    public init(environment: AdapterEnvironment) { self.environment = environment }

    public func register(http: Router<SwitchboardContext>, webSocket: Router<SwitchboardContext>) {
        let gate = self.environment.gate
        let compression = self.environment.webSocketCompression
        // Upgrade requests: a refusal is answered with its status and JSON (404 unknown key, 403 disabled app or
        // blocked origin) and recorded; plain GETs of the same path are answered by the HTTP route below.
        webSocket.ws("/_rt/ws") { request, context in
            let caller = Caller(request: request, context: context)
            if let refusal = gate.throttle(caller) { return await gate.decline(refusal, caller: caller, context: context) }
            let admitted = gate.admit(request: request, caller: caller, tenantQuery: true)
            if case .failure(let refusal) = admitted {
                return await gate.decline(refusal, caller: caller, context: context)
            }
            return .upgrade(compression.upgradeHeaders(request, app: try? admitted.get(), channel: context.channel))
        } onUpgrade: { inbound, outbound, context in
            try await self.serve(inbound: inbound, outbound: outbound, request: context.request, context: context.requestContext)
        }
        http.get("/_rt/ws") { request, context -> Response in
            let caller = Caller(request: request, context: context)
            if case .failure(let refusal) = gate.admit(request: request, caller: caller, tenantQuery: true) {
                gate.report(refusal, caller: caller)
                return JSONResponse.error(refusal.status, code: refusal.kind.name, message: refusal.message)
            }
            return JSONResponse.error(.upgradeRequired, code: "bad_request", message: "this route needs a WebSocket upgrade")
        }
        JSONActionAPI(environment: self.environment).register(on: http.group("/_rt/api"))
    }

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, context: SwitchboardContext) async throws {
        let caller = Caller(request: request, context: context)
        guard case .success(let app) = self.environment.gate.admit(request: request, caller: caller, tenantQuery: true) else { return }
        guard
            let opened = self.environment.openConnection(
                app: app,
                caller: caller,
                encoder: JSONActionEncoder(),
                channel: context.channel
            )
        else {
            try await outbound.write(.custom(.text(JSONActionReply.error(.forbidden, "the app's connection limit is reached"))))
            try await outbound.close(.policyViolation, reason: "connection limit")
            return
        }
        defer { opened.close() }
        let session = opened.session
        let connectionID = session.connectionID
        let requested = request.uri.queryParameters["cid"].map(String.init)
        let clientID = requested.flatMap { $0.count <= 64 && ChannelName.isValid($0) ? $0 : nil } ?? "c\(connectionID.raw)"
        let connection = JSONActionConnection(session: session, clientID: clientID, environment: self.environment, caller: caller)
        session.send(JSONActionReply.connected(clientID: clientID))
        // The edge announces shutdown before the server closes sockets, so the `reconnect` frame goes out first.
        // A revoked key ends the channel grants it signed, each with an `unauthorized` error (JSONActionConnection+Expiry).
        let goodbye = self.environment.shutdown.register(app: app.id, revoked: { await connection.revoke($0) }) { farewell in
            switch farewell {
            case .shutdown:
                session.send(JSONActionReply.error(.reconnect, "the server is restarting; reconnect"))
                session.close(.shutdown)
            case .appDisabled:
                session.send(JSONActionReply.error(.forbidden, "the app was disabled"))
                session.close(.normal)
            }
        }
        defer { self.environment.shutdown.unregister(goodbye) }

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await Self.drain(session, channel: context.channel, to: outbound)
                }
                // Channel tokens end at their `exp`, checked once a second; cancelled when this scope ends.
                async let _ = connection.watchTokens()
                await inbound.receiveMessages(
                    maxSize: app.plan.maxMessageBytes + 64 * 1024,
                    logger: self.environment.logger,
                    outbound: outbound,
                    violated: self.environment.gate.reportViolations(app: app.id, caller: caller, connection: session.connectionID)
                ) { bytes in
                    await connection.receive(bytes)
                    // Once the server has ended the session, what the client still sends is not read.
                    return session.end == nil
                }
                session.close(.normal)
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            session.send(JSONActionReply.error(.reconnect, "the server is restarting; reconnect"))
            session.close(.shutdown)
        }
        await connection.closed()
    }

    /// Writes everything the session queues until it ends, then closes the socket with the matching code.
    static func drain(_ session: Session, channel: any Channel, to outbound: WebSocketOutboundWriter) async {
        do {
            await WebSocketSessionWriter.run(session, channel: channel)
            switch session.end {
            case .tooSlow: try await outbound.close(.init(codeNumber: 4008), reason: "too slow")
            case .shutdown: try await outbound.close(.goingAway, reason: "server restarting")
            case .policyViolation: try await outbound.close(.policyViolation, reason: "too many refused commands")
            case .normal, nil: try await outbound.close(.normalClosure, reason: nil)
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

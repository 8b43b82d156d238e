public import Hummingbird
import HummingbirdWebSocket
import NIOCore
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
        webSocket.socket("/_rt/ws") { request, context in
            let caller = Caller(request: request, context: context)
            if let refusal = gate.throttle(caller) { return await gate.decline(refusal, caller: caller, context: context) }
            let admitted = gate.admit(request: request, caller: caller, tenantQuery: true)
            if case .failure(let refusal) = admitted {
                return await gate.decline(refusal, caller: caller, context: context)
            }
            return .upgrade(compression.upgradeHeaders(request, app: try? admitted.get(), channel: context.channel))
        } open: { request, context, link in
            self.open(request: request, context: context, link: link)
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

    /// Opens an upgraded connection: counted against the plan, greeted with `connected`, and told of shutdown,
    /// a disabled app or a revoked key.
    func open(request: Request, context: SwitchboardContext, link: any WebSocketLink) -> WebSocketOpening {
        let caller = Caller(request: request, context: context)
        guard case .success(let app) = self.environment.gate.admit(request: request, caller: caller, tenantQuery: true) else {
            return .refuse(frames: [], code: 1000, reason: nil)
        }
        guard let opened = self.environment.openConnection(app: app, caller: caller, encoder: JSONActionEncoder(), channel: context.channel) else {
            let refusal = JSONActionReply.error(.forbidden, "a connection limit is reached: the app's, or this address's")
            return .refuse(frames: [refusal], code: 1008, reason: "connection limit")
        }
        let session = opened.session
        let requested = request.uri.queryParameters["cid"].map(String.init)
        let clientID = requested.flatMap { $0.count <= 64 && ChannelName.isValid($0) ? $0 : nil } ?? "c\(session.connectionID.raw)"
        // Channel tokens end at their `exp`, checked once a second while the connection holds one that expires.
        let connection = JSONActionConnection(session: session, clientID: clientID, environment: self.environment, caller: caller) { connection in
            link.schedule(after: .seconds(1)) {
                guard session.end == nil else { return nil }
                if connection.hasLapsedGrant() { link.perform { await connection.expireTokens() } }
                return connection.continueExpiryChecks() ? .seconds(1) : nil
            }
        }
        session.send(JSONActionReply.connected(clientID: clientID))
        // The edge announces shutdown before the server closes sockets, so the `reconnect` frame goes out first.
        // A revoked key ends the channel grants it signed, each with an `unauthorized` error (JSONActionConnection+Expiry).
        let goodbye = self.environment.shutdown.register(app: app.id, caller: caller, revoked: { await connection.revoke($0) }) { farewell in
            switch farewell {
            case .shutdown:
                session.close(.shutdown, farewell: JSONActionReply.error(.reconnect, "the server is restarting; reconnect"))
            case .appDisabled:
                session.close(.normal, farewell: JSONActionReply.error(.forbidden, "the app was disabled"))
            case .addressBlocked:
                session.close(.normal, farewell: JSONActionReply.error(.forbidden, "this address is blocked"))
            }
        }
        return .endpoint(LeasedEndpoint(connection: connection, lease: EndpointLease(opened: opened, goodbye: goodbye, caller: caller)))
    }
}

/// A JSON-action connection as its WebSocket transport drives it.
extension JSONActionConnection: SocketConnection {
    public func read(_ message: ByteBuffer) async -> Bool {
        await self.receive(message)
        // Once the server has ended the session, what the client still sends is not read.
        return self.session.end == nil
    }

    public func closeFrame() -> (code: UInt16, reason: String?) {
        switch self.session.end {
        case .tooSlow: (4008, "too slow")
        case .shutdown: (1001, "server restarting")
        case .policyViolation: (1008, "too many refused commands")
        case .normal, nil: (1000, nil)
        }
    }

    public func socketClosed() async { await self.closed() }

    /// The contract's `message_too_large` answers a message of any size the transport takes, not a 1009 close.
    public var answersOversizedMessages: Bool { true }

    public func readOversized(limit: Int) async -> Bool {
        self.receiveOversized(limit: limit)
        return self.session.end == nil
    }
}

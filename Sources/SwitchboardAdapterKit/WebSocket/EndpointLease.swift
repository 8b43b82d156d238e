import SwitchboardCore

/// What a WebSocket endpoint holds besides its protocol's connection, the same in every protocol: its place in the
/// plan's count, its shutdown registration, and who the client is. Given back once, when the socket is gone.
public struct EndpointLease: Sendable {
    /// The admitted connection (counted against the plan).
    public let opened: OpenConnection
    /// The shutdown, app-disabled and revocation registration.
    public let goodbye: ShutdownNotice.Token
    /// The client, for security events.
    public let caller: Caller
    /// The protocol's framing around the data the plan counts.
    let envelopeBytes: Int

    /// A lease of `opened`, with its `goodbye` registration, for messages up to the plan's largest plus
    /// `envelopeBytes` (the protocol's framing around the data the plan counts).
    public init(opened: OpenConnection, goodbye: ShutdownNotice.Token, caller: Caller, envelopeBytes: Int = 64 * 1024) {
        self.opened = opened
        self.goodbye = goodbye
        self.caller = caller
        self.envelopeBytes = envelopeBytes
    }

    /// The largest message the client may send now: the app's current plan, so an upgrade (admin `PATCH`, SIGHUP)
    /// reaches connections already open.
    public var maxMessageBytes: Int {
        let session = self.opened.session
        let app = self.opened.environment.bus.apps.app(id: session.app.id) ?? session.app
        return app.plan.maxMessageBytes + self.envelopeBytes
    }

    /// Records the `bad_request` event of a connection the transport closed on an RFC 6455 violation.
    public func report(_ violation: WebSocketViolation) {
        let session = self.opened.session
        self.opened.environment.gate.reportViolations(app: session.app.id, caller: self.caller, connection: session.connectionID)(violation)
    }

    /// Gives back the registration and the plan's count.
    public func release() {
        self.opened.environment.shutdown.unregister(self.goodbye)
        self.opened.close()
    }
}

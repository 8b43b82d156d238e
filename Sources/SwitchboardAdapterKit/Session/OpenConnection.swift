public import NIOCore
public import SwitchboardCore

/// A WebSocket connection admitted to its app: counted against the plan and on the status page, with its session.
///
/// Every WebSocket adapter opens its connections this way and refuses an over-limit one in its own protocol.
public struct OpenConnection: Sendable {
    /// The connection's send queue.
    public let session: Session
    let environment: AdapterEnvironment
    /// The connection's place in its client address's count.
    let address: AddressHold

    /// Undoes the counting `AdapterEnvironment.openConnection` did; call once, when the connection ends.
    public func close() {
        self.address.release()
        self.environment.connections.closed(self.session.encoder.protocolName)
        self.environment.bus.disconnect(app: self.session.app.id, via: self.session.encoder.protocolName)
    }
}

extension AdapterEnvironment {
    /// Counts a new connection of `app` (under its encoder's protocol) and opens its session, compressing when its
    /// upgrade agreed to; nil, after a security event, when the plan's connection limit (`over_quota`) or the client
    /// address's (`rate_limited`, `[limits] max_connections_per_ip`) is reached.
    public func openConnection(app: App, caller: Caller, encoder: any FrameEncoder, channel: any Channel) -> OpenConnection? {
        // Read once, so the session gets the queue bounds and compression of one generation of `[limits]`.
        let limits = self.limits.current
        guard let address = self.holdAddress(of: caller, app: app.id, limit: limits.maxConnectionsPerIP) else { return nil }
        let connectionID: ConnectionID
        do {
            connectionID = try self.bus.connect(app: app, via: encoder.protocolName)
        } catch {
            address.release()
            self.gate.report(.overQuota, app: app.id, caller: caller, detail: "connection limit reached")
            return nil
        }
        self.connections.opened(encoder.protocolName)
        let session = Session(
            connectionID: connectionID,
            app: app,
            encoder: encoder,
            maxQueuedFrames: limits.maxQueuedFrames,
            maxQueuedBytes: limits.client.maxQueuedBytes,
            compressor: self.webSocketCompression.compressor(channel: channel).map {
                self.reloadedDeflater.deflater(replacing: $0, minBytes: limits.compressionMinBytes)
            },
            eventLoop: channel.eventLoop
        )
        return OpenConnection(session: session, environment: self, address: address)
    }

    /// A place among the caller's address's open connections; nil, after a `rate_limited` event, when it holds `limit`.
    public func holdAddress(of caller: Caller, app: String, limit: Int) -> AddressHold? {
        if let hold = self.connections.byAddress.hold(ip: caller.ip, limit: limit) { return hold }
        self.gate.report(.rateLimited, app: app, caller: caller, detail: "more than \(limit) open connections from \(caller.ip ?? "one address")")
        return nil
    }
}

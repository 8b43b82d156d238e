public import NIOCore
public import SwitchboardCore

/// A WebSocket connection admitted to its app: counted against the plan and on the status page, with its session.
///
/// Every WebSocket adapter opens its connections this way and refuses an over-limit one in its own protocol.
public struct OpenConnection: Sendable {
    /// The connection's send queue.
    public let session: Session
    let environment: AdapterEnvironment

    /// Undoes the counting `AdapterEnvironment.openConnection` did; call once, when the connection ends.
    public func close() {
        self.environment.connections.closed(self.session.encoder.protocolName)
        self.environment.bus.disconnect(app: self.session.app.id, via: self.session.encoder.protocolName)
    }
}

extension AdapterEnvironment {
    /// Counts a new connection of `app` (under its encoder's protocol) and opens its session, compressing when its
    /// upgrade agreed to; nil, after an `over_quota` security event, when the plan's connection limit is reached.
    public func openConnection(app: App, caller: Caller, encoder: any FrameEncoder, channel: any Channel) -> OpenConnection? {
        let connectionID: ConnectionID
        do {
            connectionID = try self.bus.connect(app: app, via: encoder.protocolName)
        } catch {
            self.gate.report(.overQuota, app: app.id, caller: caller, detail: "connection limit reached")
            return nil
        }
        self.connections.opened(encoder.protocolName)
        // Read once, so the session gets the queue bounds and compression of one generation of `[limits]`.
        let limits = self.limits.current
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
        return OpenConnection(session: session, environment: self)
    }
}

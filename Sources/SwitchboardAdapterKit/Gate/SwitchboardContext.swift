public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore

/// The request context every route of the edge sees: Hummingbird's, WebSocket-capable, with the peer address.
public struct SwitchboardContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<SwitchboardContext>
    /// Where a `socket` route leaves the connection it admitted for the edge's WebSocket transport.
    public let upgrade = WebSocketUpgradeSlot()
    /// Where a stream route leaves the event stream it admitted for the edge's HTTP/1.1 transport; nil where the route
    /// writes the stream itself (h2).
    public var eventStream: EventStreamSlot?
    /// The client's socket address.
    public let remoteAddress: SocketAddress?
    /// The connection the request came on; a declined WebSocket upgrade shapes its answer there.
    public let channel: any Channel
    /// `[server] trusted_proxies`, set by the edge's first middleware; `Caller` reads the client's address through it.
    /// Empty until set, so a route outside that middleware sees the TCP peer and never a forwarded header.
    public var trustedProxies = TrustedProxies()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }
}

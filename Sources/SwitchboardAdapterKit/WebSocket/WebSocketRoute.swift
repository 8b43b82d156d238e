public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore
import Synchronization

/// How an upgraded connection begins: as an endpoint the transport drives, or refused in the protocol's own words
/// (frames, then a close) when the refusal can only be told over the socket.
public enum WebSocketOpening: Sendable {
    case endpoint(any WebSocketEndpoint)
    case refuse(frames: [ByteBuffer], code: UInt16, reason: String?)
}

/// What a route decided for one upgrade request, carried from the router to the connection's transport.
public struct WebSocketOpener: Sendable {
    /// The upgrade request, as the route saw it.
    public let request: Request
    /// The route's context (the client's address through `[server] trusted_proxies`).
    public let context: SwitchboardContext
    let open: @Sendable (Request, SwitchboardContext, any WebSocketLink) -> WebSocketOpening

    /// Opens the connection on the event loop once the upgrade response is out.
    public func open(link: any WebSocketLink) -> WebSocketOpening { self.open(self.request, self.context, link) }
}

/// Where a route leaves its `WebSocketOpener` for the transport; taken once, so the context it holds is let go.
public final class WebSocketUpgradeSlot: Sendable {
    private let opener = Mutex<WebSocketOpener?>(nil)

    /// An empty slot.
    public init() {}

    func set(_ opener: WebSocketOpener) { self.opener.withLock { $0 = opener } }

    /// The opener a route left, once.
    public func take() -> WebSocketOpener? { self.opener.withLock { $0.take() } }
}

extension Router where Context == SwitchboardContext {
    /// A WebSocket route served by the edge's own transport: `shouldUpgrade` admits or declines the upgrade request,
    /// `open` builds the connection on its event loop after the upgrade.
    ///
    /// ```swift
    /// webSocket.socket("/_rt/ws") { request, context in .upgrade([:]) } open: { request, context, link in .endpoint(MyEndpoint()) }
    /// ```
    @discardableResult
    public func socket(
        _ path: RouterPath,
        shouldUpgrade: @escaping @Sendable (Request, SwitchboardContext) async throws -> RouterShouldUpgrade,
        open: @escaping @Sendable (Request, SwitchboardContext, any WebSocketLink) -> WebSocketOpening
    ) -> Self {
        self.on(path, method: .get) { request, context -> Response in
            switch try await shouldUpgrade(request, context) {
            case .dontUpgrade:
                return Response(status: .methodNotAllowed)
            case .upgrade(let headers):
                context.upgrade.set(WebSocketOpener(request: request, context: context, open: open))
                return Response(status: .ok, headers: headers)
            }
        }
        return self
    }
}

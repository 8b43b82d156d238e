import NIOCore
import NIOHTTP1

/// Lets a connection's first request through as plain HTTP when its `Upgrade` names no protocol the edge speaks, or
/// when it is no WebSocket handshake: RFC 9110 §7.8 lets a server ignore the header.
///
/// NIO's upgrade handler holds back a request that asks for an upgrade and, finding no upgrader, drops it: every route
/// answered `curl --http2` (`Upgrade: h2c`) with an empty reply, and a POST carrying `Upgrade` got none either.
/// It sits between the HTTP decoder and the upgrade handler, and leaves after the first request head.
final class UnsupportedUpgradeFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// The protocol the upgrade handler has an upgrader for.
    let supported: String

    init(supported: String = "websocket") {
        self.supported = supported
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = Self.unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        if Self.ignoresUpgrade(head, supported: self.supported) {
            head.headers.remove(name: "upgrade")
            context.fireChannelRead(Self.wrapInboundOut(.head(head)))
        } else {
            context.fireChannelRead(data)
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// True when `head` asks for an upgrade the edge will not make: another protocol, or a WebSocket handshake that is
    /// not one (RFC 6455 §4.1: a GET with one key and version 13), which the route then answers as plain HTTP (426).
    static func ignoresUpgrade(_ head: HTTPRequestHead, supported: String) -> Bool {
        let requested = head.headers[canonicalForm: "upgrade"]
        guard !requested.isEmpty else { return false }
        guard head.method == .GET, requested.contains(where: { $0.lowercased() == supported }) else { return true }
        return head.headers["Sec-WebSocket-Key"].count != 1 || head.headers["Sec-WebSocket-Version"] != ["13"]
    }
}

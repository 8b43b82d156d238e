import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SwitchboardAdapterKit

/// The edge's HTTP/1.1 channel with WebSocket upgrade (`EdgeWebSocketChannel`), plus what NIOWebSocket leaves out: a client frame that is
/// not masked closes the connection with 1002 (``UnmaskedFrameGuard``), and `unmasked` hears of it; a request line
/// the HTTP parser refuses gets 400 and a closed connection.
struct GuardedWebSocketChannel: ServerChildChannel {
    typealias Value = EdgeWebSocketChannel.Value

    let inner: EdgeWebSocketChannel
    let unmasked: @Sendable (SocketAddress?) -> Void

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // The inner setup completes on the event loop before any byte is read, so the installer is in place in time.
        self.inner.setup(channel: channel, logger: logger).flatMapThrowing { [unmasked] value in
            try channel.pipeline.syncOperations.addHandler(UnmaskedFrameGuard.Installer(onUnmasked: unmasked))
            // The upgrade pipeline has no HTTP error handling: a request NIO cannot parse would hold its socket (and
            // a graceful shutdown) forever. It is answered with 400 and closed.
            let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(HTTPParseErrorResponder(), position: .after(decoder.handler))
            try channel.pipeline.syncOperations.addHandler(ConnectionDeadline.firstRequestHead(), position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        // Until a first request head arrives the upgrade pipeline waits for one (20 s, `ConnectionDeadline`) with
        // no shutdown handling, so a silent connection (a browser's preconnect, a stalled client) would hold a graceful
        // shutdown that long: on shutdown such a connection is closed. Later requests follow Hummingbird's idle handling.
        let channel = value.channel
        await withGracefulShutdownHandler {
            await self.inner.handle(value: value, logger: logger)
        } onGracefulShutdown: {
            channel.eventLoop.execute {
                // The deadline leaves the pipeline at the first request head: while it is there, none has come.
                guard (try? channel.pipeline.syncOperations.handler(type: ConnectionDeadline<HTTPServerRequestPart>.self)) != nil else { return }
                channel.close(promise: nil)
            }
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with WebSocket upgrades to `webSocketRouter`, closing connections that send unmasked frames (1002);
    /// each connection is admitted by `admission` first.
    ///
    /// ```swift
    /// Application(router: router, server: .http1GuardedWebSocket(webSocketRouter: router, admission: admission, unmasked: { _ in }))
    /// ```
    static func http1GuardedWebSocket<WSResponderBuilder: HTTPResponderBuilder & SendableMetatype>(
        webSocketRouter: WSResponderBuilder,
        streamRouter: Router<SwitchboardContext>? = nil,
        configuration: EdgeWebSocketChannel.Configuration = .init(),
        admission: SocketAdmission,
        unmasked: @escaping @Sendable (SocketAddress?) -> Void
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context == SwitchboardContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        let streamResponder = EdgeWebSocketChannel.responding(with: streamRouter)
        // Plaintext: a connection's frames are its socket's bytes, so they may be written to it directly.
        var direct = configuration
        direct.connection.writesSocketDirectly = true
        let plaintext = direct
        return .init { responder in
            AdmittedChannel(
                inner: GuardedWebSocketChannel(
                    inner: EdgeWebSocketChannel(
                        responder: responder,
                        webSocketResponder: webSocketResponder,
                        streamResponder: streamResponder,
                        configuration: plaintext
                    ),
                    unmasked: unmasked
                ),
                admission: admission
            )
        }
    }
}

/// Answers a request the HTTP parser refused with 400 and closes the connection; other errors pass on.
final class HTTPParseErrorResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        let head = HTTPResponseHead(version: .http1_1, status: .badRequest, headers: ["Connection": "close", "Content-Length": "0"])
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.close(promise: nil)
    }
}

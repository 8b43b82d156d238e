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
            try channel.pipeline.syncOperations.addHandler(FirstRequestWatcher(), position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        // Until a first request head arrives the upgrade pipeline waits for one (for 20 s, `FirstRequestWatcher`) with
        // no shutdown handling, so a silent connection (a browser's preconnect, a stalled client) would hold a graceful
        // shutdown that long: on shutdown such a connection is closed. Later requests follow Hummingbird's idle handling.
        let channel = value.channel
        await withGracefulShutdownHandler {
            await self.inner.handle(value: value, logger: logger)
        } onGracefulShutdown: {
            channel.eventLoop.execute {
                // The watcher leaves the pipeline at the first request head: while it is there, none has come.
                guard (try? channel.pipeline.syncOperations.handler(type: FirstRequestWatcher.self)) != nil else { return }
                channel.close(promise: nil)
            }
        }
    }
}

/// Stays in the pipeline until the connection's first complete request head, then removes itself (before an upgrade
/// turns the bytes after the HTTP decoder into WebSocket frames); a connection whose head has not come within
/// `deadline` is closed, so a silent or dribbling client (slowloris) cannot hold a socket for ever.
final class FirstRequestWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// How long a new connection has to send its first request head.
    static let deadline = TimeAmount.seconds(20)

    let deadline: TimeAmount
    var timer: Scheduled<Void>?

    init(deadline: TimeAmount = FirstRequestWatcher.deadline) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        self.timer = context.eventLoop.scheduleTask(in: self.deadline) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let isHead = if case .head = self.unwrapInboundIn(data) { true } else { false }
        context.fireChannelRead(data)
        // After forwarding: a removed context forwards nothing. Bytes an upgrade releases flow on from the upgrade
        // handler, after this one, so none reach it before it is gone.
        if isHead { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with WebSocket upgrades to `webSocketRouter`, closing connections that send unmasked frames (1002).
    ///
    /// ```swift
    /// Application(router: router, server: .http1GuardedWebSocket(webSocketRouter: router, unmasked: { _ in }))
    /// ```
    static func http1GuardedWebSocket<WSResponderBuilder: HTTPResponderBuilder & SendableMetatype>(
        webSocketRouter: WSResponderBuilder,
        configuration: EdgeWebSocketChannel.Configuration = .init(),
        unmasked: @escaping @Sendable (SocketAddress?) -> Void
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context == SwitchboardContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        return .init { responder in
            GuardedWebSocketChannel(
                inner: EdgeWebSocketChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                unmasked: unmasked
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

import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import ServiceLifecycle
import SwitchboardAdapterKit

/// A TLS connection that speaks HTTP/2 or HTTP/1.1 with WebSocket upgrade, whichever ALPN picks.
///
/// Hummingbird's `http2Upgrade` has no WebSocket upgrade on its HTTP/1.1 branch; this one uses
/// `EdgeWebSocketChannel` there, so one port serves h2 (HTTP APIs, SSE) and WSS. The TLS context
/// is read per connection from a ``ReloadableTLSContext``, so a certificate reload applies to new connections only.
struct EdgeTLSChannel: ServerChildChannel {
    /// The connection once ALPN has settled which protocol it speaks.
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<EdgeWebSocketChannel.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    /// How long an h2 connection may take to wind down once the server is shutting down.
    static let http2ShutdownGrace = TimeAmount.seconds(1)

    let tls: ReloadableTLSContext
    let http1: GuardedWebSocketChannel
    let http2: HTTP2Channel
    /// Hears of an h2 connection closed for a flood of control frames (`HTTP2FrameBudget`).
    let h2Flood: @Sendable (SocketAddress?) -> Void

    init(tls: ReloadableTLSContext, http1: GuardedWebSocketChannel, http2: HTTP2Channel, h2Flood: @escaping @Sendable (SocketAddress?) -> Void) {
        self.tls = tls
        self.http1 = http1
        self.http2 = http2
        self.h2Flood = h2Flood
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: self.tls.context))
            try channel.pipeline.syncOperations.addHandler(ConnectionDeadline.tlsHandshake())
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.configureHTTP2AsyncSecureUpgrade { channel in
            self.http1.setup(channel: channel, logger: logger)
        } http2ConnectionInitializer: { channel in
            // Before the h2 handler: the budget reads the frames as they arrive.
            do {
                try channel.pipeline.syncOperations.addHandler(HTTP2FrameBudget(report: self.h2Flood))
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            return self.http2.setup(channel: channel, logger: logger).flatMapThrowing { value in
                try channel.pipeline.syncOperations.addHandler(ConnectionDeadline.firstStream())
                return value
            }
        }
        .map { Value(negotiated: $0, channel: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let http1): await self.http1.handle(value: http1, logger: logger)
            case .http2(let http2):
                // An h2 connection closes on shutdown only once the client acknowledges the GOAWAY ping, which a client
                // that stopped reading never does: close it after a grace so shutdown cannot hang on it.
                let channel = value.channel
                await withGracefulShutdownHandler {
                    await self.http2.handle(value: http2, logger: logger)
                } onGracefulShutdown: {
                    channel.eventLoop.scheduleTask(in: Self.http2ShutdownGrace) { channel.close(promise: nil) }
                }
            }
        } catch {
            logger.debug("TLS connection ended before a protocol was negotiated", metadata: ["error": "\(error)"])
        }
    }
}

extension HTTPServerBuilder {
    /// TLS with ALPN `h2` and `http/1.1`; WebSocket upgrades on http/1.1 go to `webSocketRouter`, and a client frame that
    /// is not masked closes its connection with 1002 (`unmasked` hears of it), an h2 control-frame flood with GOAWAY
    /// (`h2Flood` hears of it). Each connection is admitted by `admission` before its handshake.
    ///
    /// ```swift
    /// Application(router: router, server: .tlsHTTP2AndWebSocket(tls: context, webSocketRouter: router, admission: admission, unmasked: { _ in }))
    /// ```
    static func tlsHTTP2AndWebSocket<WSResponderBuilder: HTTPResponderBuilder & SendableMetatype>(
        tls: ReloadableTLSContext,
        webSocketRouter: WSResponderBuilder,
        streamRouter: Router<SwitchboardContext>? = nil,
        configuration: EdgeWebSocketChannel.Configuration = .init(),
        admission: SocketAdmission,
        unmasked: @escaping @Sendable (SocketAddress?) -> Void,
        h2Flood: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context == SwitchboardContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        let streamResponder = EdgeWebSocketChannel.responding(with: streamRouter)
        return .init { responder in
            let tls = EdgeTLSChannel(
                tls: tls,
                http1: GuardedWebSocketChannel(
                    inner: EdgeWebSocketChannel(
                        responder: responder,
                        webSocketResponder: webSocketResponder,
                        streamResponder: streamResponder,
                        configuration: configuration
                    ),
                    unmasked: unmasked
                ),
                http2: HTTP2Channel(
                    responder: responder,
                    configuration: .init(
                        idleTimeout: EdgeWebSocketChannel.idleTimeout,
                        // The idle close sends GOAWAY and a ping; a client that never answers must not keep the socket.
                        gracefulCloseTimeout: .seconds(10),
                        streamConfiguration: configuration.http1
                    )
                ),
                h2Flood: h2Flood
            )
            return AdmittedChannel(inner: tls, admission: admission)
        }
    }
}

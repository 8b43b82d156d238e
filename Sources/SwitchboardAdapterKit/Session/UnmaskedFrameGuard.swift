public import NIOCore
public import NIOWebSocket

/// Closes a WebSocket with 1002 on the first client frame that is not masked, as RFC 6455 §5.1 requires of a server;
/// NIOWebSocket's decoder accepts such frames. It sits right after the decoder, so it sees every frame, control frames
/// included, before anything reads them; frames after the offending one are dropped.
///
/// The HTTP/1.1 channel adds an ``UnmaskedFrameGuard/Installer`` when the connection is set up; it puts the guard in
/// place the moment an upgrade adds the decoder, before the bytes that followed the upgrade request are replayed.
public final class UnmaskedFrameGuard: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = WebSocketFrame
    public typealias OutboundOut = ByteBuffer

    private let onUnmasked: @Sendable (SocketAddress?) -> Void
    private var failed = false

    /// A guard that tells `onUnmasked` (with the client's address) when it closes a connection.
    public init(onUnmasked: @escaping @Sendable (SocketAddress?) -> Void = { _ in }) {
        self.onUnmasked = onUnmasked
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.failed else { return }
        let frame = Self.unwrapInboundIn(data)
        guard frame.maskKey == nil else {
            context.fireChannelRead(data)
            return
        }
        self.failed = true
        self.onUnmasked(context.channel.remoteAddress)
        let close = ServerFrame.close(code: 1002, reason: "unmasked client frame")
        let loopBound = context.loopBound
        context.writeAndFlush(Self.wrapOutboundOut(close)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    /// Waits in an HTTP/1.1 pipeline, after the upgrade handler, for a WebSocket upgrade; then adds the guard after the
    /// frame decoder and leaves. The first request that is not upgraded sends it away too.
    public final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        public typealias InboundIn = NIOAny
        public typealias InboundOut = NIOAny

        private let onUnmasked: @Sendable (SocketAddress?) -> Void

        /// An installer whose guard reports to `onUnmasked`.
        public init(onUnmasked: @escaping @Sendable (SocketAddress?) -> Void = { _ in }) {
            self.onUnmasked = onUnmasked
        }

        public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            // The upgrade handler announces a finished upgrade with an event, after adding the decoder and before
            // replaying the bytes it held back: the guard is in place for the very first frame.
            let pipeline = context.pipeline.syncOperations
            guard let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) else {
                context.fireUserInboundEventTriggered(event)
                return
            }
            do {
                try pipeline.addHandler(UnmaskedFrameGuard(onUnmasked: self.onUnmasked), position: .after(decoder.handler))
            } catch {
                context.fireErrorCaught(error)
            }
            context.fireUserInboundEventTriggered(event)
            pipeline.removeHandler(context: context, promise: nil)
        }

        public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // A request reached the HTTP handlers: this connection is not being upgraded.
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOTLS

/// Closes a connection that has not reached a milestone within `delay`, then leaves the pipeline once it has: a client
/// that connects and sends nothing, or dribbles its bytes (slowloris), cannot hold a socket for ever.
///
/// The milestone is seen in what passes by: a read (`reached(read:)`) or an event (`reached(event:)`).
final class ConnectionDeadline<In>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = In
    typealias InboundOut = In

    let delay: TimeAmount
    /// Nil when only an event marks the milestone: reads then pass without being unwrapped as `In`.
    let reachedByRead: ((In) -> Bool)?
    let reachedByEvent: (Any) -> Bool
    var timer: Scheduled<Void>?

    init(delay: TimeAmount, read: ((In) -> Bool)? = nil, event: @escaping (Any) -> Bool = { _ in false }) {
        self.delay = delay
        self.reachedByRead = read
        self.reachedByEvent = event
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        self.timer = context.eventLoop.scheduleTask(in: self.delay) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reached = self.reachedByRead?(Self.unwrapInboundIn(data)) ?? false
        context.fireChannelRead(data)
        // After forwarding: a removed context forwards nothing. Bytes an upgrade releases flow on from the upgrade
        // handler, after this one, so none reach it before it is gone.
        if reached { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let reached = self.reachedByEvent(event)
        context.fireUserInboundEventTriggered(event)
        if reached { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}

extension ConnectionDeadline where In == HTTPServerRequestPart {
    /// 20 s for a connection's first request head, placed right after the HTTP decoder (before an upgrade turns what
    /// follows into WebSocket frames); later requests follow Hummingbird's idle timeout.
    static func firstRequestHead() -> ConnectionDeadline {
        ConnectionDeadline(delay: .seconds(20), read: { if case .head = $0 { true } else { false } })
    }
}

extension ConnectionDeadline where In == HTTP2Frame {
    /// 20 s for an h2 connection's first stream, as HTTP/1.1 has for its first request head; placed after the h2 handlers,
    /// where the connection's own frames pass.
    static func firstStream() -> ConnectionDeadline {
        ConnectionDeadline(delay: .seconds(20), event: { $0 is NIOHTTP2StreamCreatedEvent })
    }
}

extension ConnectionDeadline where In == NIOAny {
    /// 10 s for the TLS handshake, placed after the TLS handler.
    static func tlsHandshake() -> ConnectionDeadline {
        ConnectionDeadline(delay: .seconds(10), event: { if case .handshakeCompleted = $0 as? TLSUserEvent { true } else { false } })
    }

}

import NIOCore
import NIOHTTP1
import NIOTLS

/// Closes a connection that has not reached a milestone within `delay`, then leaves the pipeline once it has: a client
/// that connects and sends nothing, or dribbles its bytes (slowloris), cannot hold a socket for ever.
///
/// The milestone is seen in what passes by: a read (`reached(read:)`) or an event (`reached(event:)`).
final class ConnectionDeadline<In>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = In
    typealias InboundOut = In

    let delay: TimeAmount
    let reachedByRead: (In) -> Bool
    let reachedByEvent: (Any) -> Bool
    var timer: Scheduled<Void>?

    init(delay: TimeAmount, read: @escaping (In) -> Bool = { _ in false }, event: @escaping (Any) -> Bool = { _ in false }) {
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
        let reached = self.reachedByRead(Self.unwrapInboundIn(data))
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

extension ConnectionDeadline where In == NIOAny {
    /// 10 s for the TLS handshake, placed after the TLS handler.
    static func tlsHandshake() -> ConnectionDeadline {
        ConnectionDeadline(delay: .seconds(10), event: { if case .handshakeCompleted = $0 as? TLSUserEvent { true } else { false } })
    }
}

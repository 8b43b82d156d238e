import NIOCore

/// Ends a stream as soon as its client goes: an HTTP/1.1 client that closes its socket is only an end of input to the
/// server (half-closure is on), and a write would find it gone one or two keepalives later, holding the connection's
/// place in the plan until then.
final class SSEClientWatch: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let gone: @Sendable () -> Void

    init(gone: @escaping @Sendable () -> Void) { self.gone = gone }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { self.gone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.gone()
        context.fireChannelInactive()
    }

    /// Watches `channel` until `stream` returns; `gone` runs at once when the client left before the watch began.
    static func watching<T>(_ channel: any Channel, gone: @escaping @Sendable () -> Void, _ stream: () async throws -> T) async rethrows -> T {
        let watch = SSEClientWatch(gone: gone)
        let added: Void? = try? await channel.pipeline.addHandler(watch, position: .first).get()
        if added == nil || !channel.isActive { gone() }
        defer { if added != nil { channel.pipeline.removeHandler(watch, promise: nil) } }
        return try await stream()
    }
}

import HTTPTypes
public import HummingbirdWebSocket
import NIOCore
import NIOHTTP1
import SwitchboardCore

extension Gate {
    /// Declines a WebSocket upgrade with the refusal's status and JSON body, and records it as a security event.
    ///
    /// hummingbird-websocket answers every declined upgrade with a bare `400` and never consults the HTTP
    /// routes, so an unknown key or a blocked origin would look like a malformed request. This puts a handler
    /// in the connection's HTTP/1 pipeline, next to the response encoder, that turns that 400 into the refusal
    /// (404 for an unknown key, 403 for a disabled app or a blocked origin). If the pipeline is not the one
    /// expected, the bare 400 goes out: the request is refused either way.
    public func decline(_ refusal: Refusal, caller: Caller, context: SwitchboardContext) async -> RouterShouldUpgrade {
        self.report(refusal, caller: caller)
        let status = HTTPResponseStatus(statusCode: Int(refusal.status.code))
        let body = JSONResponse.errorBody(code: refusal.kind.name, message: refusal.message)
        let channel = context.channel
        try? await channel.eventLoop.submit {
            let pipeline = channel.pipeline.syncOperations
            let encoder = try pipeline.handler(type: HTTPResponseEncoder.self)
            try pipeline.addHandler(DeclinedUpgradeHandler(status: status, body: body), position: .after(encoder))
        }.get()
        return .dontUpgrade
    }
}

/// Rewrites the WebSocket library's bare `400` for a declined upgrade into the gate's refusal, once.
final class DeclinedUpgradeHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let status: HTTPResponseStatus
    let body: ByteBuffer
    private var rewriting = false
    private var done = false

    init(status: HTTPResponseStatus, body: ByteBuffer) {
        self.status = status
        self.body = body
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(var head) where !self.done && head.status == .badRequest:
            self.done = true
            self.rewriting = true
            head.status = self.status
            head.headers.replaceOrAdd(name: "Content-Type", value: "application/json; charset=utf-8")
            head.headers.replaceOrAdd(name: "Content-Length", value: String(self.body.readableBytes))
            context.write(self.wrapOutboundOut(.head(head)), promise: promise)
        case .end where self.rewriting:
            self.rewriting = false
            context.write(self.wrapOutboundOut(.body(.byteBuffer(self.body))), promise: nil)
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}

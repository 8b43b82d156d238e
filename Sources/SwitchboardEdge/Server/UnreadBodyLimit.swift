import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Stops reading a request body that goes on after its response was sent, once more than `bytes` of it or `time` has
/// passed: the connection (or h2 stream) then ends.
///
/// Hummingbird reads what is left of a body after its handler returns, to keep the connection. A refused request (401,
/// 404, 413) declaring `Content-Length: 1000000000000` was read and thrown away for as long as its client sent, at
/// 800 MB/s a core's worth of work with no key. A short remainder is still read, so a client that sent a small body
/// to a refusal keeps its connection.
final class UnreadBodyLimit: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What may still be read of a body after its response.
    let bytes: Int
    /// How long a body may go on after its response.
    let time: TimeAmount

    /// Between a request's head and its end.
    private var requestOpen = false
    /// Its declared length, and what has arrived of it.
    private var declared: Int?
    private var received = 0
    /// Whether its response has ended, and what arrived since.
    private var answered = false
    private var afterAnswer = 0
    private var deadline: Scheduled<Void>?
    private var stopped = false

    init(bytes: Int = 256 * 1024, time: TimeAmount = .seconds(5)) {
        self.bytes = bytes
        self.time = time
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.requestOpen = true
            self.declared = head.headerFields[.contentLength].flatMap { Int($0) }
            self.received = 0
            self.answered = false
            self.afterAnswer = 0
        case .body(let chunk):
            self.received += chunk.readableBytes
            if self.answered {
                self.afterAnswer += chunk.readableBytes
                if self.afterAnswer > self.bytes { return self.stopReading(context: context) }
            }
        case .end:
            self.requestOpen = false
            self.deadline?.cancel()
            self.deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = Self.unwrapOutboundIn(data), self.requestOpen else { return context.write(data, promise: promise) }
        self.answered = true
        // Known to be too long already: stop once the response has gone; otherwise give the rest `time`.
        if let declared = self.declared, declared - self.received > self.bytes {
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            let loopBound = context.loopBound
            written.futureResult.assumeIsolated().whenComplete { _ in self.stopReading(context: loopBound.value) }
            return
        }
        let loopBound = context.loopBound
        self.deadline = context.eventLoop.assumeIsolated().scheduleTask(in: self.time) {
            if self.requestOpen { self.stopReading(context: loopBound.value) }
        }
        context.write(data, promise: promise)
    }

    /// Closes the input: Hummingbird's read of the rest ends, and with it the connection (an h2 stream is reset).
    private func stopReading(context: ChannelHandlerContext) {
        guard !self.stopped else { return }
        self.stopped = true
        let channel = context.channel
        let closed = context.eventLoop.makePromise(of: Void.self)
        closed.futureResult.whenFailure { _ in channel.close(promise: nil) }
        context.close(mode: .input, promise: closed)
    }
}

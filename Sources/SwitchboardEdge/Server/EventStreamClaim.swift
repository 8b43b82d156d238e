import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import SwitchboardAdapterKit

/// Takes a connection whose first request opens an event stream (`GET` on one of `paths`) away from Hummingbird's
/// per-connection task, so the stream is written by `EventStreamWriter` on the event loop and holds no task: an idle
/// stream then costs what an idle WebSocket costs, not the depth of a suspended request's stack.
///
/// The request runs through the HTTP router as any other (middleware included) from a short task, with an
/// `EventStreamSlot` in its context. A route that leaves a stream there gets its head written and the writer installed;
/// any other answer is written as it is, and the connection closes after it (the task that would read a next request
/// is gone). Other first requests pass on untouched, and the claim leaves the pipeline.
final class EventStreamClaim: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let paths: Set<String>
    let responder: @Sendable (Request, SwitchboardContext) async throws -> Response
    let logger: Logger
    /// The HTTP handler that would take the request otherwise; it leaves with the claimed request (which ends the
    /// connection's task: it was waiting for that handler's verdict).
    let otherwise: any RemovableChannelHandler
    /// How the stream's writes join its event loop's batches (`[limits] write_batch_ms`), as WebSockets' do.
    let batchInterval: WriteBatchInterval
    /// The connection is plaintext: the stream's writer may write its socket directly.
    let writesSocketDirectly: Bool
    private var claimed = false
    /// The claimed request's HTTP version, which the answer speaks (an HTTP/1.0 stream is not chunked).
    private var version = HTTPVersion.http1_1
    private var removed = false

    /// The most bytes of a refusal written before the connection closes.
    static let maxAnswerBytes = 64 * 1024

    init(
        paths: Set<String>,
        otherwise: any RemovableChannelHandler,
        batchInterval: WriteBatchInterval = WriteBatchInterval(),
        writesSocketDirectly: Bool = false,
        logger: Logger,
        responder: @escaping @Sendable (Request, SwitchboardContext) async throws -> Response
    ) {
        self.paths = paths
        self.otherwise = otherwise
        self.batchInterval = batchInterval
        self.writesSocketDirectly = writesSocketDirectly
        self.logger = logger
        self.responder = responder
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.removed = true }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After a claim, nothing the client sends is read: a stream's client has nothing more to say.
        guard !self.claimed else { return }
        guard case .head(let head) = Self.unwrapInboundIn(data), self.claims(head) else {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        self.claimed = true
        self.version = head.version
        let pipeline = context.pipeline.syncOperations
        pipeline.removeHandler(self.otherwise, promise: nil)
        // HTTP is over on this socket: a parse error's 400 would land in the middle of the stream.
        if let parseErrors = try? pipeline.context(handlerType: HTTPParseErrorResponder.self) {
            pipeline.removeHandler(context: parseErrors, promise: nil)
        }
        self.admit(head, context: context)
    }

    /// A `GET` (not an upgrade) of one of `paths`.
    func claims(_ head: HTTPRequestHead) -> Bool {
        guard head.method == .GET, !head.headers.contains(name: "upgrade") else { return false }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        return self.paths.contains(path)
    }

    /// Runs the router on the request from a task, then answers on the loop.
    private func admit(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let channel = context.channel
        let (responder, logger) = (self.responder, self.logger)
        let promise = context.eventLoop.makePromise(of: Answer.self)
        promise.completeWithTask {
            let request = Request(head: try HTTPRequest(head, secure: false, splitCookie: false), body: .init(buffer: .init()))
            var requestContext = SwitchboardContext(source: .init(channel: channel, logger: logger))
            let slot = EventStreamSlot()
            requestContext.eventStream = slot
            let response: Response
            do {
                response = try await responder(request, requestContext)
            } catch let error as any HTTPResponseError {
                // As Hummingbird's server answers an error a route or middleware throws.
                response = try error.response(from: request, context: requestContext)
            } catch {
                response = Response(status: .internalServerError)
            }
            if response.status == .ok, let stream = slot.take() { return .stream(response.headers, stream) }
            let collected = Collected(limit: Self.maxAnswerBytes)
            try await response.body.write(CollectingWriter(into: collected))
            return .answer(response.status, response.headers, collected.buffer)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { result in
            let (claim, context) = bound.value
            claim.answer(result, context: context)
        }
    }

    /// A response's headers with the `Date` and `Server` that Hummingbird's server adds to every other answer.
    static func served(_ fields: HTTPFields) -> HTTPHeaders {
        var headers = HTTPHeaders(fields)
        headers.replaceOrAdd(name: "date", value: Self.httpDate())
        headers.replaceOrAdd(name: "server", value: Edge.serverName)
        return headers
    }

    /// Now as an HTTP date (RFC 9110 §5.6.7), in the C locale's English names.
    static func httpDate(_ seconds: time_t = time(nil)) -> String {
        var now = seconds
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A stream's connection reads no more requests and its writer frames the body: the HTTP codec and the handlers that
    /// look at requests leave, so an idle stream holds only its writer (what the client still sends reaches the writer,
    /// which drops it).
    private static func removeHTTPHandling(_ pipeline: ChannelPipeline.SynchronousOperations) {
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) {
            pipeline.removeHandler(context: decoder, promise: nil)
        }
        if let encoder = try? pipeline.context(handlerType: HTTPResponseEncoder.self) {
            pipeline.removeHandler(context: encoder, promise: nil)
        }
        if let filter = try? pipeline.context(handlerType: UnsupportedUpgradeFilter.self) {
            pipeline.removeHandler(context: filter, promise: nil)
        }
        if let installer = try? pipeline.context(handlerType: UnmaskedFrameGuard.Installer.self) {
            pipeline.removeHandler(context: installer, promise: nil)
        }
    }

    private enum Answer: Sendable {
        case stream(HTTPFields, any EventStream)
        case answer(HTTPResponse.Status, HTTPFields, ByteBuffer)
    }

    private func answer(_ result: Result<Answer, any Error>, context: ChannelHandlerContext) {
        let live = !self.removed && context.channel.isActive
        switch result {
        case .success(.stream(let fields, let stream)):
            guard live else { return stream.ended() }
            var headers = Self.served(fields)
            headers.remove(name: "content-length")
            // The writer frames the body itself: HTTP/1.1 chunks, or the bytes as they are until the close for HTTP/1.0.
            let chunked = self.version.major > 1 || self.version.minor >= 1
            headers.remove(name: "transfer-encoding")
            if chunked { headers.add(name: "transfer-encoding", value: "chunked") }
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: self.version, status: .ok, headers: headers))), promise: nil)
            // The head is on its way; the HTTP codec and the request filters leave before the writer's first bytes.
            Self.removeHTTPHandling(context.pipeline.syncOperations)
            do {
                try context.pipeline.syncOperations.addHandler(
                    EventStreamWriter(
                        stream: stream,
                        framing: chunked ? .chunked : .untilClose,
                        batchInterval: self.batchInterval,
                        writesSocketDirectly: self.writesSocketDirectly
                    ),
                    position: .after(self)
                )
            } catch {
                stream.ended()
                context.close(promise: nil)
                return
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .success(.answer(let status, let fields, let body)):
            guard live else { return }
            var headers = Self.served(fields)
            headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
            headers.replaceOrAdd(name: "connection", value: "close")
            let head = HTTPResponseHead(
                version: self.version,
                status: .init(statusCode: status.code, reasonPhrase: status.reasonPhrase),
                headers: headers
            )
            context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
            if body.readableBytes > 0 { context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        case .failure(let error):
            self.logger.debug("event stream request failed", metadata: ["error": "\(error)"])
            if live { context.close(promise: nil) }
        }
    }
}

/// A refusal's body, gathered to be written with its length.
private final class Collected: @unchecked Sendable {
    var buffer = ByteBuffer()
    let limit: Int
    init(limit: Int) { self.limit = limit }
}

private struct CollectingWriter: ResponseBodyWriter {
    let collected: Collected
    init(into collected: Collected) { self.collected = collected }

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        let room = self.collected.limit - self.collected.buffer.readableBytes
        guard room > 0 else { return }
        if buffer.readableBytes > room { buffer = buffer.getSlice(at: buffer.readerIndex, length: room) ?? ByteBuffer() }
        self.collected.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import SwitchboardAdapterKit
import Synchronization

/// HTTP/1.1 with WebSocket upgrades served by the edge's own transport: once upgraded, a connection is NIO handlers on
/// its event loop (`WebSocketConnectionHandler`), and the task the server gave it ends.
///
/// Plain requests go to the HTTP responder as in Hummingbird's own channel. An upgrade request goes to the WebSocket
/// router; a `socket` route that admits it leaves its opener in the context, and the upgrade installs the handler that
/// drives it. A declined upgrade gets `400` and a closed connection (which `Gate.decline` rewrites).
struct EdgeWebSocketChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case webSocket
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    /// What a `socket` route decided, with the extension the upgrade agreed.
    struct Accepted: Sendable {
        let opener: WebSocketOpener
        let inflate: PerMessageDeflateOffer?
    }

    /// How long a connection may sit with no request in progress (HTTP/1.1 keep-alive, or an h2 connection with no
    /// stream) before it is closed; a long response (an SSE stream) is never idle.
    static let idleTimeout = Duration.seconds(60)

    /// The settings of every connection of a listener.
    struct Configuration: Sendable {
        /// Hummingbird's HTTP/1.1 settings, for requests that are not upgraded (and h2 streams): a body that goes on
        /// after its response is read only so far (`UnreadBodyLimit`).
        var http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [UnreadBodyLimit()],
            idleTimeout: .init(EdgeWebSocketChannel.idleTimeout)
        )
        /// The largest WebSocket frame a client may send.
        var maxFrameSize = 1 << 20
        /// Pings, close timeout and backlog of each WebSocket connection.
        var connection = WebSocketConnectionHandler.Configuration()
        /// Paths whose `GET` opens an event stream, written from the event loop once admitted (`EventStreamClaim`).
        var eventStreamPaths: Set<String> = []
    }

    let responder: HTTPChannelHandler.Responder
    let webSocketResponder: @Sendable (Request, SwitchboardContext) async throws -> Response
    /// The HTTP router, run on a claimed event stream request (nil: no claims).
    let streamResponder: (@Sendable (Request, SwitchboardContext) async throws -> Response)?
    let configuration: Configuration
    var http1: HTTP1Channel.Configuration { self.configuration.http1 }
    var maxFrameSize: Int { self.configuration.maxFrameSize }
    var connection: WebSocketConnectionHandler.Configuration { self.configuration.connection }

    init<WSResponder: HTTPResponder>(
        responder: @escaping HTTPChannelHandler.Responder,
        webSocketResponder: WSResponder,
        streamResponder: (@Sendable (Request, SwitchboardContext) async throws -> Response)? = nil,
        configuration: Configuration
    ) where WSResponder.Context == SwitchboardContext {
        self.responder = Self.redirectingUpgrades(responder)
        self.webSocketResponder = { request, context in try await webSocketResponder.respond(to: request, context: context) }
        self.streamResponder = streamResponder
        self.configuration = configuration
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // NIO keeps each socket's read buffer for its next read: its first size is what an idle connection holds
            // for good. 512 bytes fit an upgrade request; a connection that reads more grows its own buffer.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.readBuffers)
            let attempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = EdgeWebSocketUpgrader(
                maxFrameSize: self.maxFrameSize,
                shouldUpgrade: { channel, head in
                    attempted.value = true
                    return self.shouldUpgrade(head, channel: channel, logger: logger)
                },
                connection: self.connection
            )
            let notUpgraded: @Sendable (any Channel) -> EventLoopFuture<UpgradeResult> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                    try channel.pipeline.syncOperations.addHandlers(self.http1.additionalChannelHandlers())
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPConnectionStateHandler(idleTimeout: self.http1.idleTimeout.map { .init($0) }, logger: logger)
                    )
                    let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                    return attempted.value ? .failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                }
            }
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(
                upgradeConfiguration: .init(upgraders: [upgrader], notUpgradingCompletionHandler: notUpgraded)
            )
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            configuration.decoderConfiguration.maxHeaderFieldSize = self.http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = self.http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = self.http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(UnsupportedUpgradeFilter(), position: .after(decoder.handler))
            if let streamResponder = self.streamResponder, !self.configuration.eventStreamPaths.isEmpty {
                let upgrades = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<UpgradeResult>.self)
                let claim = EventStreamClaim(
                    paths: self.configuration.eventStreamPaths,
                    otherwise: upgrades,
                    batchInterval: self.connection.writeBatch,
                    writesSocketDirectly: self.connection.writesSocketDirectly,
                    logger: logger,
                    responder: streamResponder
                )
                try channel.pipeline.syncOperations.addHandler(claim, position: .before(upgrades))
            }
            return Value(upgradeResult: result, channel: channel)
        }
    }

    /// Read buffers start at 512 bytes (NIO's default is 2 KB) and grow to 64 KB while reads fill them.
    static let readBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536)

    /// Runs the WebSocket router on the upgrade request; nil declines it.
    func shouldUpgrade(_ head: HTTPRequestHead, channel: any Channel, logger: Logger) -> EventLoopFuture<(HTTPHeaders, Accepted)?> {
        let promise = channel.eventLoop.makePromise(of: (HTTPHeaders, Accepted)?.self)
        promise.completeWithTask {
            let request = Request(head: try HTTPRequest(head, secure: false, splitCookie: false), body: .init(buffer: .init()))
            let context = SwitchboardContext(source: .init(channel: channel, logger: logger))
            let response = try await self.webSocketResponder(request, context)
            guard response.status == .ok, let opener = context.upgrade.take() else { return nil }
            let agreed = response.headers[.secWebSocketExtensions] != nil
            let inflate = agreed ? PerMessageDeflateOffer.first(in: request.headers) : nil
            return (HTTPHeaders(response.headers), Accepted(opener: opener, inflate: inflate))
        }
        return promise.futureResult
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                // The connection lives on in its handlers; this task is done.
                return
            case .notUpgraded(let http1):
                await self.handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                try await http1.executeThenClose { _, outbound in
                    let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
                    try await outbound.write(contentsOf: [.head(head), .end(nil)])
                }
            }
        } catch {
            logger.debug("connection ended before or during an upgrade", metadata: ["error": "\(error)"])
        }
    }

    /// `router`'s responder as a function, for `streamResponder`.
    static func responding(with router: Router<SwitchboardContext>?) -> (@Sendable (Request, SwitchboardContext) async throws -> Response)? {
        guard let responder = router?.buildResponder() else { return nil }
        return { request, context in try await responder.respond(to: request, context: context) }
    }

    /// NIO's upgrade code reads upgrade headers only on a connection's first request: a later one is sent back to
    /// itself (307, `Connection: close`), so the client retries it on a new connection.
    static func redirectingUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct Redirected: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            var location = request.uri.path
            if let query = request.uri.query { location += "?\(query)" }
            try await writer.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw Redirected()
        }
    }
}

/// The WebSocket upgrade (RFC 6455 §4.2): checks the handshake, answers it, and installs NIOWebSocket's frame decoder
/// and the edge's connection handler (which writes whole frames itself, so no frame encoder is installed).
final class EdgeWebSocketUpgrader: NIOTypedHTTPServerProtocolUpgrader, Sendable {
    typealias UpgradeResult = EdgeWebSocketChannel.UpgradeResult

    let supportedProtocol = "websocket"
    let requiredUpgradeHeaders: [String] = []
    let maxFrameSize: Int
    let shouldUpgrade: @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<(HTTPHeaders, EdgeWebSocketChannel.Accepted)?>
    let connection: WebSocketConnectionHandler.Configuration
    /// What `shouldUpgrade` accepted, kept for `upgrade` (NIO calls them in turn on the connection's loop).
    let accepted = Mutex<EdgeWebSocketChannel.Accepted?>(nil)

    init(
        maxFrameSize: Int,
        shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<(HTTPHeaders, EdgeWebSocketChannel.Accepted)?>,
        connection: WebSocketConnectionHandler.Configuration
    ) {
        self.maxFrameSize = maxFrameSize
        self.shouldUpgrade = shouldUpgrade
        self.connection = connection
    }

    /// The GUID RFC 6455 appends to the client's key before hashing it.
    static let magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    func buildUpgradeResponse(
        channel: any Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        let keys = upgradeRequest.headers["Sec-WebSocket-Key"]
        guard keys.count == 1, let key = keys.first, upgradeRequest.headers["Sec-WebSocket-Version"] == ["13"] else {
            return channel.eventLoop.makeFailedFuture(NIOWebSocketUpgradeError.invalidUpgradeHeader)
        }
        return self.shouldUpgrade(channel, upgradeRequest).flatMapThrowing { decision in
            guard let (headers, decided) = decision else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
            self.accepted.withLock { $0 = decided }
            var response = initialResponseHeaders
            response.add(contentsOf: headers)
            let digest = Insecure.SHA1.hash(data: Array((key + Self.magic).utf8))
            response.replaceOrAdd(name: "Upgrade", value: "websocket")
            response.add(name: "Sec-WebSocket-Accept", value: Data(digest).base64EncodedString())
            response.replaceOrAdd(name: "Connection", value: "upgrade")
            return response
        }
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard let decided = self.accepted.withLock({ $0.take() }) else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
            let pipeline = channel.pipeline.syncOperations
            // HTTP is over on this socket: its parse-error answer would only be one more hop for every write.
            if let responder = try? pipeline.context(handlerType: HTTPParseErrorResponder.self) {
                pipeline.removeHandler(context: responder, promise: nil)
            }
            let handler = WebSocketConnectionHandler(
                opener: decided.opener,
                inflate: decided.inflate,
                eventLoop: channel.eventLoop,
                configuration: self.connection
            )
            try pipeline.addHandler(WebSocketFrameSizeGuard { [unowned handler] in handler.maxFrameBytes })
            try pipeline.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: self.maxFrameSize)))
            try pipeline.addHandler(handler)
            return .webSocket
        }
    }
}

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

extension Bench {
    /// Opens one subscriber: TCP (`SO_REUSEADDR`, optionally from a chosen source address), the HTTP/1.1 upgrade, then its subscriptions.
    struct SubscriberConnector: Sendable {
        /// Subscriber `index` connects to `servers[index % servers.count]`.
        let servers: [SocketAddress]
        let hostHeader: String
        let wire: WireProtocol
        let maxFrameSize: Int
        /// Bounds the whole of connect, upgrade and subscribe.
        let timeout: TimeAmount
        /// Local addresses to spread connections over (127.0.0.2, …) past the ~28,000 ephemeral ports of one address.
        let sourceAddresses: [SocketAddress]
        /// Monotonic start of the run (see `SubscriberSession.since`).
        let since: UInt64
        /// Offer permessage-deflate with `server_no_context_takeover`.
        var compression = false

        /// Connects subscriber `index` on `loop` to `path` and subscribes it to `channels`; returns once it is ready.
        func connect(index: Int, path: String, channels: [String], loop: any EventLoop, tally: NIOLoopBoundBox<Tally>) async throws -> any Channel {
            var bootstrap = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .connectTimeout(self.timeout)
            if !self.sourceAddresses.isEmpty {
                bootstrap = bootstrap.bind(to: self.sourceAddresses[index % self.sourceAddresses.count])
                #if os(Linux)
                    // IP_BIND_ADDRESS_NO_PORT (24): pick the port at connect time, so each source address has its own port range.
                    bootstrap = bootstrap.channelOption(.ipOption(.init(rawValue: 24)), value: 1)
                #endif
            }
            let session = SubscriberSession(wire: self.wire, channels: channels, since: self.since)
            let head = self.upgradeRequest(path: path)
            let maxFrameSize = self.maxFrameSize
            let timeout = self.timeout
            let compression = self.compression
            let subscribed = try await bootstrap.connect(to: self.servers[index % self.servers.count]) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                    try channel.pipeline.syncOperations.addHandler(WireByteCounter(tally: tally), position: .first)
                    // No WebSocketProtocolErrorHandler: one handler less per frame; the subscriber handler closes on any error itself.
                    let upgrader = NIOTypedWebSocketClientUpgrader<EventLoopFuture<any Channel>>(
                        maxFrameSize: maxFrameSize,
                        enableAutomaticErrorHandling: false
                    ) { channel, response in
                        channel.eventLoop.makeCompletedFuture {
                            let ready = channel.eventLoop.makePromise(of: (any Channel).self)
                            let agreed = compression && response.headers["Sec-WebSocket-Extensions"].contains { $0.contains("permessage-deflate") }
                            let inflater = agreed ? try SubscriberInflater() : nil
                            let handler = SubscriberHandler(session: session, tally: tally, ready: ready, inflater: inflater)
                            try channel.pipeline.syncOperations.addHandler(handler)
                            return ready.futureResult
                        }
                    }
                    let upgrade = NIOTypedHTTPClientUpgradeConfiguration(upgradeRequestHead: head, upgraders: [upgrader]) { channel in
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(BenchError("the server answered \(path) without upgrading to WebSocket"))
                    }
                    var configuration = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgrade)
                    // The server may send its first frame in the same packet as the 101 response.
                    configuration.leftOverBytesStrategy = .forwardBytes
                    let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: configuration)
                    return upgraded.flatMap { ready in
                        channel.pipeline.fireUserInboundEventTriggered(SubscriberHandler.Upgraded())
                        return ready
                    }.always { _ in deadline.cancel() }
                }
            }
            do {
                return try await subscribed.get()
            } catch ChannelError.inappropriateOperationForState {
                // What NIO's upgrade handler fails with when it is removed mid-upgrade, i.e. the connection went away.
                throw BenchError("the connection closed during the WebSocket upgrade")
            }
        }

        func upgradeRequest(path: String) -> HTTPRequestHead {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            head.headers.add(name: "Host", value: self.hostHeader)
            if self.compression {
                let offer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
                head.headers.add(name: "Sec-WebSocket-Extensions", value: offer)
            }
            return head
        }
    }
}

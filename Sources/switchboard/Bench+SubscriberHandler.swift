import NIOCore
import NIOWebSocket

extension Bench {
    /// The WebSocket end of one subscriber: a thin shell that feeds frames to a `SubscriberSession` and counts into its loop's tally.
    final class SubscriberHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

        private var session: SubscriberSession
        private let tally: NIOLoopBoundBox<Tally>
        /// Succeeds with the channel once subscribed; fails if the connection ends first.
        private var ready: EventLoopPromise<any Channel>?
        /// Inflates compressed frames when the upgrade agreed to permessage-deflate.
        private let inflater: SubscriberInflater?

        init(session: SubscriberSession, tally: NIOLoopBoundBox<Tally>, ready: EventLoopPromise<any Channel>, inflater: SubscriberInflater? = nil) {
            self.session = session
            self.tally = tally
            self.ready = ready
            self.inflater = inflater
        }

        /// Sent down the pipeline once the HTTP upgrade handler forwards writes again: writing earlier would fail.
        struct Upgraded: Sendable {}

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard event is Upgraded else {
                context.fireUserInboundEventTriggered(event)
                return
            }
            if self.inflater != nil { self.tally.value.compressedConnections += 1 }
            let frames = self.session.openingFrames(allocator: context.channel.allocator)
            for frame in frames {
                context.write(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: frame)), promise: nil)
            }
            if !frames.isEmpty { context.flush() }
            if self.session.isReady { self.succeed(context) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = self.unwrapInboundIn(data)
            switch frame.opcode {
            case .text, .binary:
                var payload = frame.data
                if frame.rsv1 {
                    guard let inflater = self.inflater, let inflated = try? inflater.inflate(payload) else {
                        self.tally.value.protocolErrors += 1
                        self.tally.value.note(error: "a compressed frame the subscriber did not agree to or could not inflate")
                        return
                    }
                    self.tally.value.compressedFrames += 1
                    payload = inflated
                }
                switch self.session.received(payload) {
                case .delivered(let sentAt):
                    self.tally.value.recordDelivery(sentAt: sentAt, now: Bench.now())
                case .stale:
                    self.tally.value.stale += 1
                case .ready:
                    self.succeed(context)
                case .error(let text):
                    self.tally.value.protocolErrors += 1
                    self.tally.value.note(error: "server error frame: \(text)")
                    if let ready = self.ready {
                        self.ready = nil
                        ready.fail(BenchError("subscribe refused: \(text)"))
                        context.close(promise: nil)
                    }
                case .ignored:
                    break
                }
            case .ping:
                let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.data)
                context.writeAndFlush(self.wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                var echo = frame.data
                let code = echo.readSlice(length: min(2, echo.readableBytes)) ?? echo
                let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code)
                context.writeAndFlush(self.wrapOutboundOut(close), promise: nil)
                context.close(promise: nil)
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let ready = self.ready {
                self.ready = nil
                ready.fail(BenchError("the server closed the connection before it was subscribed"))
            } else {
                self.tally.value.disconnects += 1
                self.tally.value.note(error: "a subscriber was disconnected by the server")
            }
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            if let ready = self.ready {
                self.ready = nil
                ready.fail(BenchError("the connection ended before it was subscribed"))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if self.ready == nil { self.tally.value.note(error: "subscriber: \(error)") }
            context.close(promise: nil)
        }

        private func succeed(_ context: ChannelHandlerContext) {
            guard let ready = self.ready else { return }
            self.ready = nil
            ready.succeed(context.channel)
        }
    }
}

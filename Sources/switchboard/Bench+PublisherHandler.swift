import NIOCore
import NIOHTTP1

extension Bench {
    /// One keep-alive HTTP/1.1 publishing connection with at most one request in flight, paced by a `PublishSchedule`.
    ///
    /// When the connection ends it hands back its schedule and counts, so the lane can reconnect and carry on.
    final class PublisherHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        /// How this connection ended.
        struct Outcome: Sendable {
            var schedule: PublishSchedule
            var tally: PublisherTally
            /// False when the connection ended before the schedule did.
            var finished: Bool
        }

        /// A publish that has no answer after this long counts as failed and its connection is dropped.
        static let requestTimeout = TimeAmount.seconds(10)

        private var schedule: PublishSchedule
        private let request: PublishRequest
        private var tally = PublisherTally()
        private var done: EventLoopPromise<Outcome>?
        private var inFlight: (sentAt: UInt64, timeout: Scheduled<Void>)?
        private var status: HTTPResponseStatus = .ok
        private var keepAlive = true
        private var errorBody: ByteBuffer?
        private var wakeUp: Scheduled<Void>?

        init(schedule: PublishSchedule, request: PublishRequest, done: EventLoopPromise<Outcome>) {
            self.schedule = schedule
            self.request = request
            self.done = done
        }

        func channelActive(context: ChannelHandlerContext) {
            self.pump(context: context)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.status = head.status
                self.keepAlive = head.isKeepAlive
                self.errorBody = (200..<300).contains(head.status.code) ? nil : context.channel.allocator.buffer(capacity: 0)
            case .body(var bytes):
                if var errorBody = self.errorBody, errorBody.readableBytes < 200 {
                    errorBody.writeBuffer(&bytes)
                    self.errorBody = errorBody
                }
            case .end:
                guard let inFlight = self.inFlight else { return }
                self.inFlight = nil
                inFlight.timeout.cancel()
                self.tally.record(status: self.status.code, errorBody: self.errorBody, roundTrip: Bench.now() - inFlight.sentAt)
                if self.keepAlive {
                    self.pump(context: context)
                } else {
                    context.close(promise: nil)
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if self.inFlight != nil {
                self.inFlight = nil
                self.tally.failed += 1
                self.tally.note(error: "the publish connection closed with a request in flight")
            }
            self.complete(finished: false)
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            self.wakeUp?.cancel()
            self.complete(finished: false)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.tally.note(error: "publisher: \(error)")
            context.close(promise: nil)
        }

        /// Sends what is due, or sleeps until it is, or finishes.
        private func pump(context: ChannelHandlerContext) {
            guard self.done != nil, self.inFlight == nil else { return }
            let now = Bench.now()
            switch self.schedule.step(now: now) {
            case .send(let index):
                let body = self.request.body(index: index, sentAt: now, allocator: context.channel.allocator)
                let head = self.request.head(index: index, bodyLength: body.readableBytes)
                let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: Self.requestTimeout) {
                    self.tally.note(error: "a publish got no answer in \(Self.requestTimeout.nanoseconds / 1_000_000_000) s")
                    context.close(promise: nil)
                }
                self.inFlight = (now, timeout)
                self.schedule.markSent()
                self.tally.firstSend = self.tally.firstSend ?? now
                self.tally.lastSend = now
                context.write(self.wrapOutboundOut(.head(head)), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            case .wait(let until):
                self.wakeUp = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(until)) {
                    self.wakeUp = nil
                    self.pump(context: context)
                }
            case .finished:
                self.complete(finished: true)
                context.close(promise: nil)
            }
        }

        private func complete(finished: Bool) {
            guard let done = self.done else { return }
            self.done = nil
            done.succeed(Outcome(schedule: self.schedule, tally: self.tally, finished: finished))
        }
    }

    /// What a publishing lane sent and how the server answered.
    struct PublisherTally: Sendable {
        /// Publishes answered 2xx.
        var accepted = 0
        /// Publishes answered 429.
        var rateLimited = 0
        /// Publishes answered otherwise, or not at all.
        var failed = 0
        /// Connections that could not be opened.
        var connectFailures = 0
        /// Request-to-response time of every answered publish.
        var roundTrip = LatencyHistogram()
        var firstSend: UInt64?
        var lastSend: UInt64 = 0
        var firstError: String?

        mutating func record(status: UInt, errorBody: ByteBuffer?, roundTrip: UInt64) {
            self.roundTrip.record(nanoseconds: roundTrip)
            switch status {
            case 200..<300: self.accepted += 1
            case 429:
                self.rateLimited += 1
                self.note(error: "publish rate limited (HTTP 429)")
            default:
                self.failed += 1
                self.note(error: "publish answered HTTP \(status): \(errorBody.map { String(buffer: $0) } ?? "")")
            }
        }

        mutating func note(error: String) {
            if self.firstError == nil { self.firstError = error }
        }

        mutating func merge(_ other: PublisherTally) {
            self.accepted += other.accepted
            self.rateLimited += other.rateLimited
            self.failed += other.failed
            self.connectFailures += other.connectFailures
            self.roundTrip.merge(other.roundTrip)
            self.firstSend = [self.firstSend, other.firstSend].compactMap { $0 }.min()
            self.lastSend = max(self.lastSend, other.lastSend)
            self.firstError = self.firstError ?? other.firstError
        }
    }
}

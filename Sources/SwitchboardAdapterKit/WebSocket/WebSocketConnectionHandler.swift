import CPrefetch
public import NIOCore
public import NIOWebSocket
import SwitchboardCore
import Synchronization

/// One upgraded WebSocket, driven on its event loop by NIO alone: no Swift task waits on an idle connection.
///
/// It sits after NIOWebSocket's frame decoder and writes whole server frames as bytes (so a broadcast's frame, built once
/// by the hub, goes to every socket as is). Client messages are put together, checked (RFC 6455) and handed to the
/// endpoint in order by a task that exists only while messages wait. Pings, the close handshake and its timeout, and
/// the endpoint's timers are scheduled tasks on the loop. Reading stops while too many messages wait, so a client
/// that sends faster than it is served holds a bounded backlog.
public final class WebSocketConnectionHandler: ChannelDuplexHandler, LoopWriter, SocketWriting, @unchecked Sendable {
    // @unchecked: every stored property below is only touched on `eventLoop`; other threads hop there first.
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Settings every connection of a listener shares.
    public struct Configuration: Sendable {
        /// Seconds between server pings; a client that sent nothing since the last ping is closed.
        public var pingInterval: TimeAmount = .seconds(30)
        /// How long the client has to answer the server's close frame, once it is on the wire, before the socket is closed.
        public var closeTimeout: TimeAmount = .seconds(3)
        /// How long a client that reads nothing may keep the server's close frame (and the frames before it) waiting.
        public var closeWriteTimeout: TimeAmount = .seconds(60)
        /// Messages waiting for the endpoint before reading stops.
        public var maxWaitingMessages = 16
        /// Frames of any kind a client may send per second (twice that at once) before it is closed with 1008: pings,
        /// pongs and empty fragments never reach the endpoint's command budget, yet each costs a read and a pong a write.
        public var maxFramesPerSecond: Double = 1_000
        /// The least time between two batches of writes on one event loop.
        public var writeBatch = WriteBatchInterval()
        /// The handler's bytes are the socket's (no TLS below it): frames may go to the socket by a system call of the
        /// handler's own while NIO holds nothing for it (`SocketWrite`).
        public var writesSocketDirectly = false

        /// The defaults: pings every 30 s, 3 s to answer a close, 16 waiting messages.
        public init() {}
    }

    // What a write and a wake-up read is declared first, so it sits in the object's first cache lines: those the write
    // batch prefetches (`LoopBatch.prefetchLines`). The opener, large and let go after the upgrade, comes later.
    var context: ChannelHandlerContext?
    var endpoint: (any WebSocketEndpoint)?
    /// The endpoint's session, kept so a write does not ask the endpoint for it.
    var session: Session?
    /// The frames of the write in progress; its storage and the session queue's take turns (`takeForWriting(into:)`).
    var taken: [OutgoingFrame] = []
    /// The most frames whose array a connection keeps between writes.
    static let keptFrames = 64
    /// The server's close frame is out: nothing else is written, and the client's close ends the socket.
    var closeSent = false
    /// The socket takes more bytes (NIO's writability, kept here so a write does not ask the channel).
    var writable = true
    /// This loop's batch of writes, which other threads' wake-ups join.
    let batch: LoopBatch
    /// The plaintext socket, written directly while NIO holds nothing for it; nil over TLS.
    var socket: SocketWrite?
    let configuration: Configuration
    /// Client messages are still wanted (not after a violation, the client's close or the endpoint's refusal).
    var reading = true
    var heardSincePing = true
    var readsPaused = false
    var pendingRead = false
    /// Taken when the handler is added: the upgrade request and its context are let go once the endpoint is open.
    var opener: WebSocketOpener?
    let eventLoop: any EventLoop
    /// Permessage-deflate agreed at the upgrade: the client may send compressed messages.
    var inflater: MessageInflater?
    var assembler = WebSocketMessageAssembler(maxSize: 1 << 20)
    let inbox: Inbox
    /// The next ping, or the check that the client answered the last one.
    var pingTimer: Scheduled<Void>?
    /// After the server's close frame: the wait for it to be written, then for the client's answer.
    var closeTimers: (written: Scheduled<Void>?, answered: Scheduled<Void>?)
    /// The endpoint's own timers (`WebSocketLink.schedule`), by id; empty for most connections.
    var timers: [Int: Scheduled<Void>] = [:]
    var nextTimer = 0
    /// The client's frames against `maxFramesPerSecond`.
    var frames: TokenBucket

    /// A handler for the connection `opener` admitted; `inflate` is the agreed permessage-deflate offer, if any.
    public init(opener: WebSocketOpener, inflate: PerMessageDeflateOffer?, eventLoop: any EventLoop, configuration: Configuration = .init()) {
        self.opener = opener
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.batch = LoopBatch.for(eventLoop)
        self.frames = TokenBucket(
            capacity: configuration.maxFramesPerSecond * 2,
            refillPerSecond: configuration.maxFramesPerSecond,
            now: MonotonicClock.seconds()
        )
        self.inbox = Inbox()
        if let inflate { self.inflater = MessageInflater(resetEachMessage: inflate.clientNoContextTakeover, maxMessageBytes: 1 << 20) }
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        guard let opener = self.opener.take() else { return }
        if self.configuration.writesSocketDirectly { self.socket = SocketWrite.of(context) }
        switch opener.open(link: Link(handler: self)) {
        case .refuse(let frames, let code, let reason):
            for frame in frames { self.send(ServerFrame.text(frame), context: context, flush: false) }
            self.sendClose(code: code, reason: reason)
        case .endpoint(let endpoint):
            self.endpoint = endpoint
            self.session = endpoint.session
            let limit = endpoint.maxMessageBytes
            self.assembler = WebSocketMessageAssembler(maxSize: limit)
            if let inflater = self.inflater {
                self.inflater = MessageInflater(resetEachMessage: inflater.resetEachMessage, maxMessageBytes: limit)
            }
            endpoint.session.attachWriter { [self] in self.wake() }
            self.schedulePing()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.finish()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.finish()
    }

    /// The socket is gone: timers stop, the session ends, and the endpoint is told after its last message.
    func finish() {
        guard self.context != nil else { return }
        self.context = nil
        self.socket = nil
        self.reading = false
        for timer in self.timers.values { timer.cancel() }
        self.timers.removeAll()
        for timer in [self.pingTimer, self.closeTimers.written, self.closeTimers.answered] { timer?.cancel() }
        self.pingTimer = nil
        self.closeTimers = (nil, nil)
        guard let endpoint = self.endpoint else { return }
        // Let go of the endpoint: its session holds this handler (the writer's wake-up) until the endpoint is done.
        self.endpoint = nil
        self.session = nil
        endpoint.session.close(.normal)
        self.inbox.push(.closed, endpoint: endpoint)
    }

    // MARK: Reading

    /// The largest frame the client may send now: the endpoint's largest message (its app's plan in force, so a plan
    /// change applies at once, and the protocol's framing); 64 KB for a connection refused at the open.
    public var maxFrameBytes: Int { self.endpoint?.maxMessageBytes ?? 64 * 1024 }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        self.heardSincePing = true
        if frame.opcode != .connectionClose, !self.closeSent, !self.frames.take(now: MonotonicClock.seconds()) {
            let rate = Int(self.configuration.maxFramesPerSecond)
            return self.violate(WebSocketViolation(code: .policyViolation, detail: "more than \(rate) frames per second"))
        }
        switch frame.opcode {
        case .connectionClose:
            self.clientClosed(frame)
        case .ping:
            guard !self.closeSent else { return }
            guard frame.fin, frame.length <= 125 else { return self.violate(WebSocketViolation(code: .protocolError, detail: "bad ping frame")) }
            // A client that pings without reading gets no pong while its socket is full (RFC 6455 §5.5.3 lets pongs
            // be skipped): pongs bypass the session's queue and its bound, so each would be held in memory.
            guard self.writable else { return }
            self.send(ServerFrame.make(.pong, frame.unmaskedData), context: context)
        case .pong:
            break
        case .text, .binary, .continuation:
            guard self.reading, self.endpoint != nil else { return }
            guard !frame.rsv2, !frame.rsv3, self.inflater != nil || !frame.rsv1 else {
                return self.violate(WebSocketViolation(code: .protocolError, detail: "reserved bits set without an agreed extension"))
            }
            if frame.opcode != .continuation, let endpoint = self.endpoint {
                // Each message is held to the plan in force when it starts.
                let limit = endpoint.maxMessageBytes
                self.assembler.maxSize = limit
                self.inflater?.maxMessageBytes = limit
            }
            var data = frame.unmaskedData
            if self.inflater != nil {
                do {
                    data = try self.inflater!.inflate(data, rsv1: frame.rsv1, fin: frame.fin)
                } catch {
                    return self.violate(WebSocketViolation(code: WebSocketErrorCode(codeNumber: Int(error.code)), detail: error.detail))
                }
            }
            switch self.assembler.add(opcode: frame.opcode, fin: frame.fin, data: data) {
            case .incomplete: break
            case .message(let message): self.deliver(.message(message))
            case .violation(let violation): self.violate(violation)
            case .oversized(let limit):
                guard self.endpoint?.answersOversizedMessages == true else { return self.violate(.tooLarge(limit)) }
                self.deliver(.oversized(limit))
            }
        default:
            self.violate(WebSocketViolation(code: .protocolError, detail: "unknown opcode"))
        }
    }

    /// Queues a whole message (or the refusal of one too large) for the endpoint; stops reading while too many wait.
    func deliver(_ item: Inbox.Item) {
        guard let endpoint = self.endpoint else { return }
        let waiting = self.inbox.push(item, endpoint: endpoint)
        if waiting >= self.configuration.maxWaitingMessages, !self.readsPaused {
            self.readsPaused = true
            self.inbox.onDrained { [self] in self.eventLoop.execute { self.resumeReading() } }
        }
    }

    func resumeReading() {
        guard self.readsPaused else { return }
        self.readsPaused = false
        if self.pendingRead, let context = self.context {
            self.pendingRead = false
            context.read()
        }
    }

    public func read(context: ChannelHandlerContext) {
        if self.readsPaused {
            self.pendingRead = true
        } else {
            context.read()
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The frame decoder's errors are the client's: a frame over the size limit (1009) or malformed (1002).
        guard let error = error as? NIOWebSocketError else {
            context.close(promise: nil)
            return
        }
        let code: WebSocketErrorCode = error == .invalidFrameLength ? .messageTooLarge : .protocolError
        self.violate(WebSocketViolation(code: code, detail: "malformed frame: \(error)"))
    }

    /// The client's close frame: answered (unless the server's went first) and the socket closed.
    func clientClosed(_ frame: WebSocketFrame) {
        guard let context = self.context else { return }
        self.reading = false
        if self.closeSent {
            context.close(promise: nil)
            return
        }
        var payload = frame.unmaskedData
        var code: UInt16 = 1000
        if payload.readableBytes == 1 || payload.readableBytes > 125 {
            code = 1002
        } else if let received = payload.readInteger(as: UInt16.self) {
            if !Self.isValidCloseCode(received) {
                code = 1002
            } else if !UTF8Validation.isValid(payload) {
                code = 1007
            } else {
                code = received
            }
        }
        self.closeSent = true
        self.endpoint?.session.close(.normal)
        let loopBound = context.loopBound
        self.send(ServerFrame.close(code: code, reason: nil), context: context).whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }

    /// Codes a client may send in a close frame (RFC 6455 §7.4).
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }

    /// Closes the socket over what the client did, after telling the endpoint (for its security event).
    func violate(_ violation: WebSocketViolation) {
        guard !self.closeSent else { return }
        self.reading = false
        self.endpoint?.violated(violation)
        self.sendClose(code: UInt16(webSocketErrorCode: violation.code), reason: violation.detail)
        self.endpoint?.session.close(.normal)
    }

    // MARK: Writing

    /// The session has frames or has ended: the connection joins its loop's next batch of writes. Broadcasts queued
    /// on the loop before that batch runs add their frames too, so under load one write carries several messages.
    func wake() {
        self.batch.add(self, interval: self.configuration.writeBatch)
    }

    /// The session's queue and the channel's state, which the write reads next.
    func prefetchForWrite() {
        if let session = self.session { switchboard_prefetch(UInt(bitPattern: ObjectIdentifier(session)), LoopBatch.prefetchLines) }
        if let channel = self.socket?.channel { switchboard_prefetch(UInt(bitPattern: ObjectIdentifier(channel)), 2) }
    }

    /// The session's queued frames, which the write takes next.
    func prefetchQueue() { self.session?.prefetchQueue() }

    /// Writes every queued frame with one flush; after the session ends, its close frame. While the socket is full
    /// nothing is taken, so the session's bound decides when the client is too slow. Returns the bytes written.
    @discardableResult
    func writeQueued() -> Int {
        // The context and the endpoint are checked here but taken only when needed: a busy loop comes back to each
        // connection cold, and a direct write touches neither.
        guard self.context != nil, self.endpoint != nil, let session = self.session else { return 0 }
        let ended = session.takeForWriting(into: &self.taken, writable: self.writable || self.closeSent)
        var wire: ByteBuffer?
        var joined = false
        if !self.closeSent {
            if self.taken.count == 1 {
                let frame = self.taken[0]
                wire = frame.wire ?? ServerFrame.text(frame.bytes, compressed: frame.compressed)
            } else if self.taken.count > 1 {
                var buffer = self.batch.writeBuffer(capacity: Self.joinedSize(self.taken))
                Self.join(self.taken, into: &buffer)
                wire = buffer
                joined = true
            }
        }
        // Emptied before the pipeline sees the write: a writability change during the flush writes again from here.
        // A small array keeps its storage for the next take.
        self.taken.removeAll(keepingCapacity: self.taken.capacity <= Self.keptFrames)
        guard !self.closeSent else { return 0 }
        if let wire {
            self.write(wire, flush: !ended)
            if joined { self.batch.reuse(wire) }
        }
        if ended, let endpoint = self.endpoint {
            let (code, reason) = endpoint.closeFrame()
            self.sendClose(code: code, reason: reason)
        }
        return wire?.readableBytes ?? 0
    }

    /// Writes straight to a plaintext socket when NIO holds nothing for it, and what the socket does not take through
    /// the pipeline, flushed in the same pass unless a close frame follows.
    private func write(_ bytes: ByteBuffer, flush: Bool) {
        var bytes = bytes
        if self.socket?.send(&bytes) == true { return }
        guard let context = self.context else { return }
        self.send(bytes, context: context, flush: flush)
    }

    /// Writes through NIO's pipeline, behind which direct writes wait.
    @discardableResult
    func send(_ bytes: ByteBuffer, context: ChannelHandlerContext, flush: Bool = true) -> EventLoopFuture<Void> {
        self.pipelineWrite(bytes, context: context, flush: flush)
    }

    /// Several frames as one buffer: copying a hundred bytes costs less than a pipeline write per frame, and the
    /// socket gets them in one `write`.
    static func join(_ frames: [OutgoingFrame], into joined: inout ByteBuffer) {
        for frame in frames {
            if let wire = frame.wire {
                joined.writeImmutableBuffer(wire)
            } else {
                ServerFrame.writeHeader(into: &joined, opcode: .text, length: frame.bytes.readableBytes, compressed: frame.compressed)
                joined.writeImmutableBuffer(frame.bytes)
            }
        }
    }

    /// The bytes `join` writes for `frames`, at most (a frame without its wire form gets the largest header).
    static func joinedSize(_ frames: [OutgoingFrame]) -> Int {
        var size = 0
        for frame in frames { size += frame.wire?.readableBytes ?? (frame.bytes.readableBytes + 10) }
        return size
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.writable = context.channel.isWritable
        if self.writable { WireTraffic.wrote(self.writeQueued()) }
        context.fireChannelWritabilityChanged()
    }

    /// Sends the server's close frame, then closes the socket when the client answers or after `closeTimeout`.
    func sendClose(code: UInt16, reason: String?) {
        guard let context = self.context, !self.closeSent else { return }
        self.closeSent = true
        // From now on messages are dropped unread, and reading goes on at full speed until the client's close comes:
        // closing a socket with unread bytes resets it, and the client would lose the close frame.
        self.reading = false
        self.resumeReading()
        let loopBound = context.loopBound
        // The answer is awaited from when the close frame reaches the socket: a client still reading the frames queued
        // before it gets them all. One that reads nothing is cut off after `closeWriteTimeout`.
        self.send(ServerFrame.close(code: code, reason: reason), context: context).whenSuccess { [self] in
            self.closeTimers.answered = self.eventLoop.scheduleTask(in: self.configuration.closeTimeout) { loopBound.value.close(promise: nil) }
        }
        self.closeTimers.written = self.eventLoop.scheduleTask(in: self.configuration.closeWriteTimeout) { loopBound.value.close(promise: nil) }
    }

    /// Pings the client every `pingInterval`; one that stayed silent for a whole interval is gone.
    func schedulePing() {
        self.pingTimer = self.eventLoop.scheduleTask(in: self.configuration.pingInterval) { [self] in
            guard let context = self.context, !self.closeSent else { return }
            guard self.heardSincePing else {
                self.sendClose(code: 1001, reason: "ping timeout")
                return
            }
            self.heardSincePing = false
            self.send(ServerFrame.make(.ping, ByteBuffer()), context: context)
            self.schedulePing()
        }
    }

    // MARK: The endpoint's link

    /// The endpoint's view of its transport.
    struct Link: WebSocketLink {
        let handler: WebSocketConnectionHandler

        func schedule(after delay: Duration, _ tick: @escaping @Sendable () -> Duration?) {
            let handler = self.handler
            handler.eventLoop.execute { handler.addTimer(after: delay, tick) }
        }

        func perform(_ work: @escaping @Sendable () async -> Void) {
            let handler = self.handler
            handler.eventLoop.execute {
                guard handler.context != nil, let endpoint = handler.endpoint else { return }
                handler.inbox.push(.work(work), endpoint: endpoint)
            }
        }
    }

    func addTimer(after delay: Duration, _ tick: @escaping @Sendable () -> Duration?) {
        guard self.context != nil else { return }
        let id = self.nextTimer
        self.nextTimer += 1
        let (seconds, attoseconds) = delay.components
        let amount = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        self.timers[id] = self.eventLoop.scheduleTask(in: amount) { [self] in
            self.timers[id] = nil
            if let next = tick() { self.addTimer(after: next, tick) }
        }
    }
}

extension WebSocketConnectionHandler {
    /// Messages and work waiting for the endpoint, served in order by one task that runs only while there are some.
    final class Inbox: Sendable {
        enum Item: Sendable {
            case message(ByteBuffer)
            /// A message over this size was dropped unread.
            case oversized(Int)
            case work(@Sendable () async -> Void)
            case closed
        }

        struct State {
            var items: [Item] = []
            var head = 0
            var running = false
            /// The endpoint no longer wants messages (it returned false); they are dropped.
            var refused = false
            var drained: (@Sendable () -> Void)?
        }

        let state = Mutex(State())

        /// Queues `item`, starting the serving task when none runs; returns how many items wait.
        @discardableResult
        func push(_ item: Item, endpoint: any WebSocketEndpoint) -> Int {
            let (start, waiting) = self.state.withLock { state -> (Bool, Int) in
                state.items.append(item)
                defer { state.running = true }
                return (!state.running, state.items.count - state.head)
            }
            if start { Task { await self.serve(endpoint) } }
            return waiting
        }

        /// Calls `drained` once no message waits any more.
        func onDrained(_ drained: @escaping @Sendable () -> Void) {
            self.state.withLock { $0.drained = drained }
        }

        func serve(_ endpoint: any WebSocketEndpoint) async {
            while let item = self.next() {
                switch item {
                case .message(let message):
                    guard !self.state.withLock({ $0.refused }) else { continue }
                    if await !endpoint.receive(message) { self.state.withLock { $0.refused = true } }
                    // What this message broadcast to the connection reaches it before the answer to the next one.
                    await endpoint.session.afterBroadcastsOnTheirWay()
                case .oversized(let limit):
                    guard !self.state.withLock({ $0.refused }) else { continue }
                    if await !endpoint.receiveOversized(limit: limit) { self.state.withLock { $0.refused = true } }
                case .work(let work):
                    await work()
                case .closed:
                    await endpoint.closed()
                }
            }
        }

        /// The next item, or nil (and the task ends) when none waits.
        func next() -> Item? {
            let (item, drained) = self.state.withLock { state -> (Item?, (@Sendable () -> Void)?) in
                guard state.head < state.items.count else {
                    state.items.removeAll(keepingCapacity: false)
                    state.head = 0
                    state.running = false
                    defer { state.drained = nil }
                    return (nil, state.drained)
                }
                let item = state.items[state.head]
                state.head += 1
                return (item, nil)
            }
            drained?()
            return item
        }
    }
}

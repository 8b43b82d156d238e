public import NIOCore

/// Writes an `EventStream` as the body of an HTTP/1.1 response whose head is already written, from the connection's
/// event loop: the session wakes it, it joins the loop's batch of writes (as WebSockets do, so its lag paces
/// publishers) and writes what is queued as one chunk; timers on the loop send keepalives and close a client that
/// reads nothing. Whatever the client sends after its request is dropped.
///
/// It frames the body itself, as bytes: NIO's HTTP encoder would write each chunk as three buffers (size line, data,
/// line end) and allocate the first, on every write to every stream.
public final class EventStreamWriter: ChannelInboundHandler, RemovableChannelHandler, LoopWriter, SocketWriting, @unchecked Sendable {
    public typealias InboundIn = NIOAny
    public typealias OutboundOut = ByteBuffer

    /// How the body goes on the wire: in HTTP/1.1 chunks, or as it is until the connection closes (HTTP/1.0).
    public enum Framing: Sendable {
        case chunked
        case untilClose
    }

    /// How long writes may wait for a client that reads nothing: while the stream is live, and once it has ended.
    /// A stream written as an h2 response body (`Session.streamEvents`) waits as long.
    public struct Timeouts: Sendable {
        public static let liveDefault = Duration.seconds(60)
        public static let endedDefault = Duration.seconds(10)
        public var live = TimeAmount(Timeouts.liveDefault)
        public var ended = TimeAmount(Timeouts.endedDefault)
        public init() {}
    }

    let stream: any EventStream
    let timeouts: Timeouts
    let batchInterval: WriteBatchInterval
    let framing: Framing
    /// The stream's bytes are its socket's (no TLS below): chunks may be written to it directly (`SocketWrite`).
    let writesSocketDirectly: Bool
    // Everything below is touched on the connection's event loop only.
    var socket: SocketWrite?
    private var context: ChannelHandlerContext?
    /// The loop's batch of writes, which also lends the buffer each write is built in.
    private var loopBatch: LoopBatch?
    private var taken: [OutgoingFrame] = []
    private var finished = false
    private var ticker: Scheduled<Void>?
    private var sinceKeepalive = TimeAmount.zero
    private var unwritableSince: NIODeadline?

    /// The most bytes put in one chunk: what `append` adds to each frame (SSE's `id:`) is not in the queue's bound.
    static let chunkBytes = 64 * 1024

    /// Room kept ahead of a chunk's data for its size line: eight hex digits and CRLF.
    static let sizeLineRoom = 10

    /// A writer for `stream` framed as `framing`, whose writes wait `batchInterval` after its loop's last batch;
    /// `writesSocketDirectly` on a plaintext connection only.
    public init(
        stream: any EventStream,
        framing: Framing = .chunked,
        timeouts: Timeouts = Timeouts(),
        batchInterval: WriteBatchInterval = WriteBatchInterval(),
        writesSocketDirectly: Bool = false
    ) {
        self.stream = stream
        self.framing = framing
        self.timeouts = timeouts
        self.batchInterval = batchInterval
        self.writesSocketDirectly = writesSocketDirectly
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if self.writesSocketDirectly { self.socket = SocketWrite.of(context) }
        let loop = context.eventLoop
        var opening = self.newChunk(in: context.channel.allocator.buffer(capacity: self.chunkCapacity(64)))
        var first = self.stream.opening()
        opening.writeBuffer(&first)
        self.frame(&opening)
        // Through NIO, behind the response head the claim left unflushed: direct writes wait for both.
        self.pipelineWrite(opening, context: context, flush: true)
        self.stream.began(on: loop)
        self.scheduleTick()
        // Broadcasts reach the session on any thread; the frames the loop's batch finds leave together. Weak: the
        // session outlives the connection while its subscriptions are given back.
        let batch = LoopBatch.for(loop)
        self.loopBatch = batch
        let interval = self.batchInterval
        self.stream.session.attachWriter { [weak self] in
            guard let self else { return }
            batch.add(self, interval: interval)
        }
        if !context.channel.isActive { self.finish(closing: true) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.finish(closing: false)
        self.context = nil
        self.socket = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    public func channelInactive(context: ChannelHandlerContext) {
        self.socket = nil
        self.stream.session.close(.normal)
        self.finish(closing: false)
        context.fireChannelInactive()
    }

    /// A client that closes its socket is only an end of input here (half-closure is on): the stream ends at once
    /// rather than when a write finds the socket gone.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            self.stream.session.close(.normal)
            self.finish(closing: true)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.stream.session.close(.normal)
        self.finish(closing: true)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.unwritableSince = nil
            WireTraffic.wrote(self.writeQueued())
        } else if self.unwritableSince == nil {
            self.unwritableSince = context.eventLoop.now
        }
        context.fireChannelWritabilityChanged()
    }

    /// Writes every queued frame as one chunk (pieces of `chunkBytes` at most) with one flush; once the session has
    /// ended, the end of the body, and the connection closes. While the socket is full nothing is taken, so the
    /// session's bound decides when the client is too slow. Returns the bytes written.
    @discardableResult
    func writeQueued() -> Int {
        guard let context = self.context, let loopBatch = self.loopBatch, !self.finished else { return 0 }
        let session = self.stream.session
        // Writability as the last change reported it, kept here (as the WebSocket handler does) so a write does not ask
        // the channel.
        let ended = session.takeForWriting(into: &self.taken, writable: self.unwritableSince == nil)
        var written = 0
        if !self.taken.isEmpty {
            let capacity = min(Self.chunkBytes, self.taken.reduce(0) { $0 + $1.bytes.readableBytes + 48 })
            var chunk = self.newChunk(in: loopBatch.writeBuffer(capacity: self.chunkCapacity(capacity)))
            var piped = false
            for frame in self.taken {
                self.stream.append(frame, to: &chunk)
                guard chunk.readableBytes >= Self.chunkBytes else { continue }
                written += self.write(&chunk, context: context, piped: &piped)
                loopBatch.reuse(chunk)
                chunk = self.newChunk(in: loopBatch.writeBuffer(capacity: self.chunkCapacity(capacity)))
            }
            if chunk.readableBytes > 0 { written += self.write(&chunk, context: context, piped: &piped) }
            loopBatch.reuse(chunk)
            self.taken.removeAll(keepingCapacity: self.taken.capacity <= 64)
            if piped { context.flush() }
        }
        if ended { self.finish(closing: true) }
        return written
    }

    /// Frames `batch` in place (a copy would share its storage, and framing it would copy every byte) and writes it:
    /// to the socket directly when it can, and what is left through NIO, unflushed (`piped` says a flush is due).
    private func write(_ batch: inout ByteBuffer, context: ChannelHandlerContext, piped: inout Bool) -> Int {
        self.frame(&batch)
        let size = batch.readableBytes
        if self.socket?.send(&batch) == true { return size }
        self.pipelineWrite(batch, context: context, flush: false)
        piped = true
        return size
    }

    /// The room a chunk of `bytes` of data needs: with chunked framing, its size line and CRLF too.
    private func chunkCapacity(_ bytes: Int) -> Int {
        self.framing == .chunked ? Self.sizeLineRoom + bytes + 2 : bytes
    }

    /// `buffer` (empty) as a chunk: data written to it lands after room for its size line.
    private func newChunk(in buffer: ByteBuffer) -> ByteBuffer {
        guard self.framing == .chunked else { return buffer }
        var chunk = buffer
        chunk.moveWriterIndex(forwardBy: Self.sizeLineRoom)
        chunk.moveReaderIndex(forwardBy: Self.sizeLineRoom)
        return chunk
    }

    /// Writes `chunk`'s size line into the room before its data and CRLF after it: one buffer, one write.
    private func frame(_ chunk: inout ByteBuffer) {
        // An empty chunk would end the body.
        guard self.framing == .chunked, chunk.readableBytes > 0 else { return }
        let sizeLine = String(chunk.readableBytes, radix: 16) + "\r\n"
        let start = chunk.readerIndex - sizeLine.utf8.count
        chunk.setString(sizeLine, at: start)
        chunk.moveReaderIndex(to: start)
        chunk.writeStaticString("\r\n")
    }

    /// Wakes for the next keepalive, and as often as the stuck-write check needs in between.
    private func scheduleTick() {
        guard let loop = self.context?.eventLoop else { return }
        let keepalive = max(.milliseconds(10), TimeAmount(self.stream.keepalive))
        let wait = min(self.timeouts.ended, keepalive - self.sinceKeepalive)
        self.ticker = loop.scheduleTask(in: wait) { [self] in self.tick(wait, keepalive: keepalive) }
    }

    /// Sends a keepalive comment when it is due, and closes a connection whose writes have waited too long.
    private func tick(_ waited: TimeAmount, keepalive: TimeAmount) {
        guard let context = self.context, !self.finished else { return }
        let session = self.stream.session
        if let since = self.unwritableSince, context.eventLoop.now - since >= (session.end == nil ? self.timeouts.live : self.timeouts.ended) {
            session.close(.tooSlow)
            self.finish(closing: true)
            context.close(promise: nil)
            return
        }
        self.sinceKeepalive = self.sinceKeepalive + waited
        if self.sinceKeepalive >= keepalive {
            self.sinceKeepalive = .zero
            if session.end == nil { _ = session.send(ByteBuffer(string: ": keepalive\n\n")) }
        }
        self.scheduleTick()
    }

    /// Ends the stream once: its timer stops and it gives back what it holds; when `closing`, the body's end is
    /// written and the connection closes after it (at once when the client is too slow to take it).
    private func finish(closing: Bool) {
        guard !self.finished else { return }
        self.finished = true
        self.ticker?.cancel()
        self.ticker = nil
        self.stream.ended()
        guard closing, let context = self.context, context.channel.isActive else { return }
        if self.stream.session.end == .tooSlow || !context.channel.isWritable {
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        let end = self.framing == .chunked ? ByteBuffer(staticString: "0\r\n\r\n") : ByteBuffer()
        self.pipelineWrite(end, context: context, flush: true).whenComplete { _ in channel.close(promise: nil) }
    }
}

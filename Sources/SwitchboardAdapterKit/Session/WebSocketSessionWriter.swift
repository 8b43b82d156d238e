public import NIOCore
import NIOWebSocket
import Synchronization

/// Writes a session's frames to its WebSocket on the connection's own event loop.
///
/// A broadcast only queues and, when the connection is idle, schedules one task on the event loop; that task
/// writes every frame queued by then and flushes once. Frames that pile up go out together in one `writev`,
/// a lone frame goes out at once, and no Swift task hop sits between the bus and the socket. While the socket
/// is not writable nothing is taken, so the session's bound (and its "too slow" end) applies.
public enum WebSocketSessionWriter {
    /// Drains `session` onto `channel` until the session ends, then writes what is left; the caller sends the close frame.
    public static func run(_ session: Session, channel: any Channel) async {
        let writer = Writer(session: session, channel: channel)
        let watcher = WritabilityWatcher(writer: writer)
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(watcher, position: .first)
        }.get()
        session.attachWriter { writer.schedule() }
        while await session.next() != nil {}
        try? await channel.eventLoop.submit { writer.write(force: true) }.get()
    }

    /// Text frames for `frames` (RSV1 set on compressed ones), written without flushing.
    final class Writer: Sendable {
        let session: Session
        let channel: any Channel

        let batch: LoopBatch

        init(session: Session, channel: any Channel) {
            self.session = session
            self.channel = channel
            self.batch = LoopBatch.for(channel.eventLoop)
        }

        func schedule() {
            if self.channel.eventLoop.inEventLoop {
                self.write(force: false)
            } else {
                self.batch.add(self)
            }
        }

        /// Takes and writes everything queued, with one flush; leaves it queued while the socket cannot take more.
        func write(force: Bool) {
            guard force || self.channel.isWritable else {
                _ = self.session.takeForWriting(requeue: true)
                return
            }
            let frames = self.session.takeForWriting()
            guard !frames.isEmpty else { return }
            var bytes = 0
            for frame in frames {
                bytes += frame.bytes.readableBytes
                self.channel.write(WebSocketFrame(fin: true, rsv1: frame.compressed, opcode: .text, data: frame.bytes), promise: nil)
            }
            self.channel.flush()
            WireTraffic.wrote(bytes)
        }
    }

    /// The writers woken on one event loop since its last batch ran: a broadcast to many connections schedules
    /// one task per event loop instead of one cross-thread task per connection.
    final class LoopBatch: Sendable {
        struct Pending {
            var writers: [Writer] = []
            var scheduled = false
        }

        let eventLoop: any EventLoop
        let pending = Mutex(Pending())

        init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

        func add(_ writer: Writer) {
            let schedule = self.pending.withLock { pending -> Bool in
                pending.writers.append(writer)
                guard !pending.scheduled else { return false }
                pending.scheduled = true
                return true
            }
            if schedule { self.eventLoop.execute { self.run() } }
        }

        func run() {
            let writers = self.pending.withLock { pending in
                defer { pending = Pending() }
                return pending.writers
            }
            for writer in writers { writer.write(force: false) }
        }

        /// Event loops live as long as the process, so one batch per loop is kept for good.
        static let batches = Mutex<[ObjectIdentifier: LoopBatch]>([:])

        static func `for`(_ eventLoop: any EventLoop) -> LoopBatch {
            self.batches.withLock { batches in
                let key = ObjectIdentifier(eventLoop)
                if let batch = batches[key] { return batch }
                let batch = LoopBatch(eventLoop: eventLoop)
                batches[key] = batch
                return batch
            }
        }
    }

    /// Resumes writing when the socket drains below its high-water mark.
    final class WritabilityWatcher: ChannelInboundHandler, Sendable {
        typealias InboundIn = Any
        let writer: Writer

        init(writer: Writer) { self.writer = writer }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable { self.writer.write(force: false) }
            context.fireChannelWritabilityChanged()
        }
    }
}

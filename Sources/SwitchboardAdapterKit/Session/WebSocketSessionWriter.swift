public import NIOCore
import NIOWebSocket

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

    /// Text frames for `frames`, written without flushing.
    final class Writer: Sendable {
        let session: Session
        let channel: any Channel

        init(session: Session, channel: any Channel) {
            self.session = session
            self.channel = channel
        }

        func schedule() {
            if self.channel.eventLoop.inEventLoop {
                self.write(force: false)
            } else {
                self.channel.eventLoop.execute { self.write(force: false) }
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
            for frame in frames {
                self.channel.write(WebSocketFrame(fin: true, opcode: .text, data: frame.bytes), promise: nil)
            }
            self.channel.flush()
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

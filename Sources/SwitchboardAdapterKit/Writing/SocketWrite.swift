import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// A plaintext connection's socket, written with a system call of our own while NIO holds nothing for it: a
/// broadcast's bytes skip the channel pipeline, its pending-write queue and its flush. What the socket does not take
/// at once goes through NIO, and so does every write after it until NIO's queue is empty, so the byte order holds.
struct SocketWrite {
    /// NIO's handle, valid while the channel is active (NIO closes it, never us).
    let handle: NIOBSDSocket.Handle
    /// Its channel, kept so the check before each write does not walk the pipeline.
    let channel: any Channel
    /// Writes handed to NIO's pipeline that have not completed; while any waits, bytes queue behind it.
    var inPipeline = 0

    /// The socket of `context`'s channel, when it has one (not an h2 stream).
    static func of(_ context: ChannelHandlerContext) -> SocketWrite? {
        #if canImport(Glibc)
            let handle = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { $0 }
            return handle.flatMap { $0 }.map { SocketWrite(handle: $0, channel: context.channel) }
        #else
            return nil
        #endif
    }

    /// Sends what the socket takes of `bytes` now, consuming it; true when all of it went. Nothing is sent while
    /// NIO holds a write or once the channel is inactive (NIO marks it so before it closes the handle, which another
    /// socket may then get). A full socket, or an error (which NIO's own write then meets and handles), leaves the
    /// rest for the pipeline.
    func send(_ bytes: inout ByteBuffer) -> Bool {
        guard self.inPipeline == 0, self.channel.isActive else { return false }
        #if canImport(Glibc)
            while bytes.readableBytes > 0 {
                let sent = bytes.withUnsafeReadableBytes { Glibc.send(self.handle, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent > 0 {
                    bytes.moveReaderIndex(forwardBy: sent)
                } else if sent < 0, errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        #else
            return false
        #endif
    }
}

/// A handler that writes its socket directly when it can: its other writes go through NIO counted, so direct bytes
/// never pass them.
protocol SocketWriting: AnyObject, Sendable {
    /// The plaintext socket; nil over TLS or once the connection is gone. Touched on the event loop only.
    var socket: SocketWrite? { get set }
}

extension SocketWriting {
    /// Hands `bytes` to NIO's pipeline, counted until NIO has written them (or failed to) when the socket is also
    /// written directly; returns the write's outcome.
    @discardableResult
    func pipelineWrite(_ bytes: ByteBuffer, context: ChannelHandlerContext, flush: Bool) -> EventLoopFuture<Void> {
        let promise = context.eventLoop.makePromise(of: Void.self)
        if self.socket != nil {
            self.socket?.inPipeline += 1
            promise.futureResult.whenComplete { _ in self.socket?.inPipeline -= 1 }
        }
        if flush {
            context.writeAndFlush(NIOAny(bytes), promise: promise)
        } else {
            context.write(NIOAny(bytes), promise: promise)
        }
        return promise.futureResult
    }
}

public import Hummingbird
public import NIOCore
import ServiceLifecycle
import SwitchboardCore
import Synchronization

extension Session {
    /// Writes the session's frames to a `text/event-stream` response until the session ends, each wakeup's frames as
    /// one write, with a `: keepalive` comment every `keepalive` so proxies keep the stream open.
    ///
    /// `append` adds one frame to the batch (SSE writes an `id:` line first). Graceful shutdown closes the session,
    /// which ends the stream; a failed write (the client went away) ends it by throwing. A write still waiting after
    /// `writeTimeout` (a client that reads nothing, an h2 window left shut), or `endedWriteTimeout` once the session
    /// has ended (too slow, or closed with frames left), calls `abort`, which should close the socket or stream so the
    /// write fails: nothing else ends a stream whose writer is stuck.
    public func streamEvents(
        to writer: inout any ResponseBodyWriter,
        keepalive: Duration,
        writeTimeout: Duration = EventStreamWriter.Timeouts.liveDefault,
        endedWriteTimeout: Duration = EventStreamWriter.Timeouts.endedDefault,
        abort: (@Sendable () -> Void)? = nil,
        append: @escaping (inout ByteBuffer, inout OutgoingFrame) -> Void = { batch, frame in batch.writeImmutableBuffer(frame.bytes) }
    ) async throws {
        let pending = PendingWrite()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Wakes for the keepalive, and as often as the stuck-write check needs in between.
                    let tick = min(keepalive, endedWriteTimeout)
                    var sinceKeepalive = Duration.zero
                    while !Task.isCancelled {
                        let wait = min(tick, keepalive - sinceKeepalive)
                        try await Task.sleep(for: wait)
                        sinceKeepalive += wait
                        if pending.waited(atLeast: self.end == nil ? writeTimeout : endedWriteTimeout) {
                            self.close(.tooSlow)
                            abort?()
                            return
                        }
                        guard sinceKeepalive >= keepalive else { continue }
                        sinceKeepalive = .zero
                        if self.end == nil { _ = self.send(ByteBuffer(string: ": keepalive\n\n")) }
                    }
                }
                while let frames = await self.next() {
                    // Written in pieces of about `Self.eventStreamWriteBytes`: what `append` adds to each frame (SSE's
                    // `id:`) is not in the queue's bound, so a whole backlog in one buffer could be many times that bound.
                    var batch = ByteBufferAllocator().buffer(
                        capacity: min(Self.eventStreamWriteBytes, frames.reduce(0) { $0 + $1.bytes.readableBytes + 48 })
                    )
                    for var frame in frames {
                        append(&batch, &frame)
                        guard batch.readableBytes >= Self.eventStreamWriteBytes else { continue }
                        try await Self.write(&batch, to: &writer, pending: pending)
                    }
                    if batch.readableBytes > 0 { try await Self.write(&batch, to: &writer, pending: pending) }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.close(.shutdown)
        }
    }

    /// The most bytes an event stream builds before writing them.
    static let eventStreamWriteBytes = 64 * 1024

    private static func write(_ batch: inout ByteBuffer, to writer: inout any ResponseBodyWriter, pending: PendingWrite) async throws {
        WireTraffic.wrote(batch.readableBytes)
        pending.begin()
        try await writer.write(batch)
        pending.end()
        batch = ByteBuffer()
    }
}

/// When the write in progress began, if one is.
private final class PendingWrite: Sendable {
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    func begin() { self.started.withLock { $0 = .now } }
    func end() { self.started.withLock { $0 = nil } }

    /// Whether a write has been waiting for `duration` or longer.
    func waited(atLeast duration: Duration) -> Bool {
        self.started.withLock { started in started.map { ContinuousClock.now - $0 >= duration } ?? false }
    }
}

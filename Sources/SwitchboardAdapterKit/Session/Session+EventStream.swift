public import Hummingbird
public import NIOCore
import ServiceLifecycle
import SwitchboardCore

extension Session {
    /// Writes the session's frames to a `text/event-stream` response until the session ends, each wakeup's frames as
    /// one write, with a `: keepalive` comment every `keepalive` so proxies keep the stream open.
    ///
    /// `append` adds one frame to the batch (SSE writes an `id:` line first). Graceful shutdown closes the session,
    /// which ends the stream; a failed write (the client went away) ends it by throwing.
    public func streamEvents(
        to writer: inout any ResponseBodyWriter,
        keepalive: Duration,
        append: @escaping (inout ByteBuffer, inout OutgoingFrame) -> Void = { batch, frame in batch.writeImmutableBuffer(frame.bytes) }
    ) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: keepalive)
                        guard self.send(ByteBuffer(string: ": keepalive\n\n")) == .queued else { return }
                    }
                }
                while let frames = await self.next() {
                    var batch = ByteBufferAllocator().buffer(capacity: frames.reduce(0) { $0 + $1.bytes.readableBytes + 48 })
                    for var frame in frames { append(&batch, &frame) }
                    WireTraffic.wrote(batch.readableBytes)
                    try await writer.write(batch)
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.close(.shutdown)
        }
    }
}

import Hummingbird
import NIOCore
import Synchronization

/// The client's request body as the proxy hands it to AsyncHTTPClient, each read in a task the proxy can stop.
///
/// Hummingbird reads what is left of a request's body once its handler returns. When the upstream answered before the
/// body ended (a 401 to an upload), AsyncHTTPClient was still waiting for more of it, and two readers of one body trap
/// in NIO: one short body ended the edge. `stop()` ends that wait, and with it the client's input, before the handler
/// returns; a read asked for after it finds the body ended.
final class ProxyUpload: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    /// The body's iterator; one reading task uses it at a time.
    private final class Cursor: @unchecked Sendable {
        var iterator: RequestBody.AsyncIterator
        init(_ iterator: RequestBody.AsyncIterator) { self.iterator = iterator }
        func next() async throws -> ByteBuffer? { try await self.iterator.next() }
    }

    private struct State {
        var reading: Task<ByteBuffer?, any Error>?
        var stopped = false
    }

    private let cursor: Cursor
    private let state = Mutex(State())

    init(_ body: RequestBody) {
        self.cursor = Cursor(body.makeAsyncIterator())
    }

    /// The next chunk, nil at the body's end or once the proxy stopped reading.
    func read() async throws -> ByteBuffer? {
        let cursor = self.cursor
        let task: Task<ByteBuffer?, any Error>? = self.state.withLock { state in
            guard !state.stopped else { return nil }
            let task = Task { try await cursor.next() }
            state.reading = task
            return task
        }
        guard let task else { return nil }
        defer { self.state.withLock { if $0.reading == task { $0.reading = nil } } }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    /// Stops reading: a read under way is cancelled and waited for, so that no reader is left when the handler returns.
    func stop() async {
        let task = self.state.withLock { state in
            state.stopped = true
            return state.reading
        }
        guard let task else { return }
        task.cancel()
        _ = try? await task.value
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let upload: ProxyUpload
        func next() async throws -> ByteBuffer? { try await self.upload.read() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(upload: self) }
}

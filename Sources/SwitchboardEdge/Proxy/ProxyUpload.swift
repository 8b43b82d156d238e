import Hummingbird
import NIOCore
import Synchronization

/// The client's request body as the proxy hands it to AsyncHTTPClient, each read in a task the proxy can stop.
///
/// Hummingbird reads what is left of a request's body once its handler returns. When the upstream answered before the
/// body ended (a 401 to an upload), AsyncHTTPClient was still waiting for more of it, and two readers of one body trap
/// in NIO: one short body ended the edge. `stop()` ends that wait before the handler returns, and says whether the
/// body had ended: if not, the proxy closes the client's input rather than let Hummingbird wait for the rest. A read
/// asked for after it finds the body ended.
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
        /// Bytes read so far, and whether a read found the end.
        var bytes = 0
        var ended = false
    }

    private let cursor: Cursor
    /// The body's declared length, when it has one: reaching it is reaching the end.
    private let length: Int?
    private let state = Mutex(State())

    init(_ body: RequestBody, length: Int?) {
        self.cursor = Cursor(body.makeAsyncIterator())
        self.length = length
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
        let chunk = try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
        self.state.withLock { state in
            state.bytes += chunk?.readableBytes ?? 0
            if chunk == nil { state.ended = true }
        }
        return chunk
    }

    /// Stops reading: a read under way is cancelled and waited for, so that no reader is left when the handler returns.
    /// Returns whether the body had been read to its end.
    func stop() async -> Bool {
        let task = self.state.withLock { state in
            state.stopped = true
            return state.reading
        }
        if let task {
            task.cancel()
            _ = try? await task.value
        }
        return self.state.withLock { state in state.ended || self.length.map { state.bytes >= $0 } == true }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let upload: ProxyUpload
        func next() async throws -> ByteBuffer? { try await self.upload.read() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(upload: self) }
}

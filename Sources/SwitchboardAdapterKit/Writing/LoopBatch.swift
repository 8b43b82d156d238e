import CPrefetch
import NIOCore
import SwitchboardCore
import Synchronization

/// A connection whose queued frames its event loop writes in batches: a WebSocket or an event stream.
protocol LoopWriter: AnyObject, Sendable {
    /// Writes what the connection has queued, on its event loop; returns the bytes written.
    func writeQueued() -> Int
    /// Starts fetching what `writeQueued` reads beyond the writer itself (its session, its channel), without waiting.
    func prefetchForWrite()
    /// Starts fetching the frames the write takes (its session's queue), once the session is on its way.
    func prefetchQueue()
}

extension LoopWriter {
    func prefetchForWrite() {}
    func prefetchQueue() {}
}

/// The connections woken on one event loop since its last batch ran: a broadcast to many connections schedules one
/// task per event loop instead of one cross-thread task per connection, and every connection a loop has yet to write
/// counts in its lag (`LoopWriteBacklog`), which paces publishers; the end of a batch, when the lag falls, tells them.
final class LoopBatch: Sendable {
    struct Pending {
        /// Woken since the batch being written was taken: the next batch.
        var writers: [any LoopWriter] = []
        /// The batch being written, a chunk per loop task, and how far it got.
        var writing: [any LoopWriter] = []
        var next = 0
        var scheduled = false
        /// When the last batch started: the next one waits until `interval` after it.
        var lastRun = NIODeadline.distantPast
        var interval = TimeAmount.zero
        /// When the first of `writers` joined, and when the first of `writing` did: the age of the oldest unwritten frame.
        var writersSince: NIODeadline?
        var writingSince: NIODeadline?
        /// How long this loop's recent batches took, from taken to written.
        var passes = LongestRecentPass()
    }

    /// Connections written per loop task. Between chunks the loop polls its sockets and runs what else waits (a
    /// publish's request and answer, a broadcast's fan-out), so a large batch does not hold the next publish back;
    /// frames that broadcasts queue meanwhile join the same write of the connections not yet reached. In
    /// compare.sh, 32 delivered the most for the least CPU (against 16, 64 and 256).
    static let chunk = 32
    /// The wait before the next chunk. NIO runs queued tasks until none is left before it polls its sockets again,
    /// so a chunk queued at once would keep a publish's request (and clients' messages) unread until the batch ends;
    /// a deadline just ahead lets the loop poll first.
    static let yieldToSockets = TimeAmount.microseconds(100)

    /// NIO's allocator, which every channel's is, for the buffers writes build: asking a channel for it at each write
    /// touches the channel.
    static let allocator = ByteBufferAllocator()

    /// How many connections ahead of its write a batch prefetches one (`run`), and how many cache lines of each.
    static let prefetchAhead = 4
    static let prefetchLines: Int32 = 3

    /// The largest buffer a loop keeps between writes (`reuse`): a write that joined a long backlog lets its buffer go.
    static let spareCapacity = 64 * 1024

    let eventLoop: any EventLoop
    let pending = Mutex(Pending())
    /// The buffer the loop's last write handed back (`reuse`), for the next one to build its bytes in.
    private let spare: NIOLoopBoundBox<ByteBuffer?>
    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.spare = .makeEmptyBox(valueType: ByteBuffer.self, eventLoop: eventLoop)
    }

    /// An empty buffer with room for `capacity` bytes, for a writer on this loop to build a write in: the one the last
    /// write handed back when there is one, so a busy loop does not allocate and free a buffer per write.
    func writeBuffer(capacity: Int) -> ByteBuffer {
        guard var buffer = self.spare.value.take() else { return Self.allocator.buffer(capacity: capacity) }
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    /// Hands back a buffer from `writeBuffer` once its bytes went out. Reusing one that NIO still holds is safe: the
    /// next `clear` finds it shared and starts new storage, as ByteBuffer copies on write.
    func reuse(_ buffer: ByteBuffer) {
        guard buffer.capacity <= Self.spareCapacity else { return }
        self.spare.value = buffer
    }

    /// Adds `writer` to the next batch, which runs at once, or `interval` after the last one when that is later.
    func add(_ writer: any LoopWriter, interval: WriteBatchInterval) {
        let lastRun = self.pending.withLock { pending -> NIODeadline? in
            if pending.writers.isEmpty, pending.writersSince == nil { pending.writersSince = .now() }
            pending.writers.append(writer)
            guard !pending.scheduled else { return nil }
            pending.scheduled = true
            return pending.lastRun
        }
        guard let lastRun else { return }
        let current = interval.current
        self.pending.withLock { $0.interval = current }
        self.start(at: lastRun + current)
    }

    private func start(at deadline: NIODeadline) {
        if deadline <= .now() {
            self.eventLoop.execute { self.run() }
        } else {
            self.eventLoop.scheduleTask(deadline: deadline) { self.run() }
        }
    }

    /// Writes the next chunk of the batch (taking a new batch when the last is done), then goes on in another task.
    func run() {
        let chunk = self.pending.withLock { pending -> ArraySlice<any LoopWriter> in
            if pending.next >= pending.writing.count {
                swap(&pending.writing, &pending.writers)
                pending.writers.removeAll(keepingCapacity: true)
                pending.next = 0
                pending.lastRun = .now()
                pending.writingSince = pending.writersSince
                pending.writersSince = nil
            }
            let end = min(pending.next + Self.chunk, pending.writing.count)
            defer { pending.next = end }
            return pending.writing[pending.next..<end]
        }
        var bytes = 0
        // A busy loop's connections are cold when it comes back to them: each is fetched three steps ahead of its
        // write, what it points to two steps ahead, and its queued frames one step ahead, so their cache misses overlap
        // instead of coming one at a time.
        for index in chunk.indices {
            if index + 2 * Self.prefetchAhead < chunk.endIndex {
                switchboard_prefetch(UInt(bitPattern: ObjectIdentifier(chunk[index + 2 * Self.prefetchAhead])), Self.prefetchLines)
            }
            if index + Self.prefetchAhead < chunk.endIndex { chunk[index + Self.prefetchAhead].prefetchForWrite() }
            if index + Self.prefetchAhead / 2 < chunk.endIndex { chunk[index + Self.prefetchAhead / 2].prefetchQueue() }
            bytes += chunk[index].writeQueued()
        }
        WireTraffic.wrote(bytes)
        let next = self.pending.withLock { pending -> Next in
            guard pending.next >= pending.writing.count else { return .chunk }
            let now = NIODeadline.now()
            pending.passes.record(now - pending.lastRun, at: now)
            pending.writing.removeAll(keepingCapacity: true)
            pending.next = 0
            pending.writingSince = nil
            guard !pending.writers.isEmpty else {
                pending.scheduled = false
                return .idle
            }
            return .batch(pending.lastRun + pending.interval)
        }
        if case .chunk = next {
            self.eventLoop.scheduleTask(in: Self.yieldToSockets) { self.run() }
            return
        }
        LoopWriteBacklog.lagMayHaveFallen()
        if case .batch(let deadline) = next { self.start(at: deadline) }
    }

    /// What follows a chunk: the rest of its batch, the next batch, or nothing until a connection is woken.
    enum Next {
        case chunk
        case batch(NIODeadline)
        case idle
    }

    /// The age of the oldest frame this loop has yet to write: from when the first connection of the batch being
    /// written (or, when none is, of the next batch) was woken.
    func lag(now: NIODeadline) -> TimeAmount {
        self.pending.withLock { pending in
            guard let since = pending.writingSince ?? pending.writersSince else { return .zero }
            return now - since
        }
    }

    /// The longest batch this loop finished lately (`LongestRecentPass`).
    func longestRecentPass(now: NIODeadline) -> TimeAmount {
        self.pending.withLock { $0.passes.longest(at: now) }
    }

    static let batches = PerEventLoop { LoopBatch(eventLoop: $0) }

    static func `for`(_ eventLoop: any EventLoop) -> LoopBatch { self.batches(eventLoop) }
}

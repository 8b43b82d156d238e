import CPrefetch
public import NIOCore
public import SwitchboardCore
import Synchronization

/// One frame ready for a transport, with the stream position it carries (SSE turns it into a cursor).
///
/// A broadcast's frame is the hub's `PreparedFrame`, shared by every session that queues it.
public struct OutgoingFrame: Sendable {
    let prepared: PreparedFrame

    /// The encoded frame.
    public var bytes: ByteBuffer { self.prepared.bytes }
    /// The channel of the message, when it has one.
    public var channel: String? { self.prepared.channel }
    /// The message's offset in its channel.
    public var offset: UInt64? { self.prepared.offset }
    /// `bytes` is a permessage-deflate payload: the WebSocket frame goes out with RSV1 set.
    public var compressed: Bool { self.prepared.compressed }
    /// The whole frame as the transport writes it, when the hub built it once for every subscriber (`FrameEncoder.wire`).
    public var wire: ByteBuffer? { self.prepared.wire }

    /// A frame of its own (a reply, a replayed message).
    public init(bytes: ByteBuffer, channel: String? = nil, offset: UInt64? = nil, compressed: Bool = false, wire: ByteBuffer? = nil) {
        self.prepared = PreparedFrame(bytes: bytes, compressed: compressed, wire: wire, channel: channel, offset: offset)
    }

    /// A broadcast's frame, shared.
    init(_ prepared: PreparedFrame) {
        self.prepared = prepared
    }
}

/// Why a session ended.
public enum SessionEnd: Sendable, Equatable {
    /// The client could not keep up: its queue overflowed.
    case tooSlow
    /// The server is shutting down; clients should reconnect.
    case shutdown
    /// Closed by the client or the server as usual.
    case normal
    /// Closed by the server because the client kept breaking the protocol's rules (too many refused commands).
    case policyViolation
}

/// One client connection's outbound side: a bounded queue of ready frames that a transport drains.
///
/// The bus queues frames and returns at once; the transport takes everything queued with one call and
/// writes it with one flush, so frames coalesce when they pile up and go out at once when they don't.
/// Overflow ends the session as too slow instead of growing memory or blocking the broadcaster.
public final class Session: Subscriber {
    typealias Waiter = CheckedContinuation<[OutgoingFrame]?, Never>

    /// What to do once the lock is released: hand frames to a waiting drain task, or wake a direct writer.
    enum Wake {
        case waiter(Waiter, [OutgoingFrame])
        case writer(@Sendable () -> Void)
    }

    struct State {
        var queue: [OutgoingFrame] = []
        var waiter: Waiter?
        var end: SessionEnd?
        var recovering: [String: [OutgoingFrame]] = [:]
        /// Bytes held back in `recovering`, bounded by `Limits.bytes` as the queue is.
        var recoveringBytes = 0
        /// Replays waiting for the writer to take everything queued before they queue their next page (`drained()`).
        var drainWaiters: [CheckedContinuation<Bool, Never>] = []
        /// Set by a transport that writes on its own event loop (`attachWriter`); frames then never go to `next()`.
        var writer: (@Sendable () -> Void)?
        /// A wake-up is on its way to the writer; more frames just join the queue it will take.
        var writerWoken = false
        /// Bytes in `queue`, bounded by `Limits.bytes` as the frame count is by `Limits.frames`.
        var queuedBytes = 0
        /// Per recovered channel, the last offset its replay delivered; live frames up to it are duplicates.
        var replayedThrough: [String: UInt64] = [:]
        /// Channels left within `leftFor`, each with the number of its leave: their broadcasts still on the way are
        /// dropped. Empty for nearly every connection, so a delivery pays one check.
        var left: [String: Int] = [:]
        var leaves = 0
        /// Channels whose presence changes the client did not ask to hear (a JWT subscription without `join_leave`).
        var quietPresence: Set<String> = []

        /// Where the queue's elements start: its storage, which a delivery appends to and a write takes.
        var queueAddress: UInt { self.queue.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }

        /// Queues one frame (a delivery's path: no array is made for it).
        mutating func push(_ frame: OutgoingFrame, limits: Limits) -> Wake? {
            if self.writer == nil, self.waiter != nil { return self.push([frame], limits: limits) }
            let bytes = frame.bytes.readableBytes
            guard self.queue.count < limits.frames, self.queuedBytes + bytes <= limits.bytes else { return self.overflow() }
            self.queue.append(frame)
            self.queuedBytes += bytes
            guard let writer = self.writer, !self.writerWoken else { return nil }
            self.writerWoken = true
            return .writer(writer)
        }

        /// Queues `frames`, closing the session as too slow past `limits`; returns who to wake.
        mutating func push(_ frames: [OutgoingFrame], limits: Limits) -> Wake? {
            if self.writer == nil, let waiter = self.waiter {
                self.waiter = nil
                return .waiter(waiter, self.queue + frames)
            }
            let bytes = frames.reduce(0) { $0 + $1.bytes.readableBytes }
            guard self.queue.count + frames.count <= limits.frames, self.queuedBytes + bytes <= limits.bytes else {
                return self.overflow()
            }
            self.queue.append(contentsOf: frames)
            self.queuedBytes += bytes
            guard let writer = self.writer, !self.writerWoken else { return nil }
            self.writerWoken = true
            return .writer(writer)
        }

        /// Ends the session as too slow and drops what it held; returns who to wake to close it.
        mutating func overflow() -> Wake? {
            self.end = .tooSlow
            self.queue.removeAll()
            self.queuedBytes = 0
            self.recovering.removeAll()
            self.recoveringBytes = 0
            if let waiter = self.waiter {
                self.waiter = nil
                return .waiter(waiter, [])
            }
            // A direct writer is woken to send the close.
            guard let writer = self.writer, !self.writerWoken else { return nil }
            self.writerWoken = true
            return .writer(writer)
        }
    }

    /// How much a session may hold unsent before it is closed as too slow.
    struct Limits {
        var frames: Int
        var bytes: Int
    }

    // What a delivery reads is declared first, so it sits in the object's first cache lines: those the hub and the
    // write batch prefetch (`Hub.prefetchLines`). The app, large and cold, comes last.
    private let state = Mutex(State())
    /// Where the queue's elements are (`State.queueAddress`), kept beside the lock for `prefetchQueue`, which reads it
    /// without the lock: a stale address only fetches a line for nothing.
    private let queueAddress = Atomic<UInt>(0)
    /// The most frames queued before the session is closed as too slow.
    public let maxQueuedFrames: Int
    /// The most bytes queued (or held back during recovery) before the session is closed as too slow.
    public let maxQueuedBytes: Int
    var limits: Limits { Limits(frames: self.maxQueuedFrames, bytes: self.maxQueuedBytes) }
    public let connectionID: ConnectionID
    public let encoder: any FrameEncoder
    /// Compresses the session's frames when the client agreed to permessage-deflate; nil sends them plain.
    public let compressor: (any FrameCompressor)?
    /// The event loop of the connection's socket: broadcasts queue here from that loop (`Subscriber.eventLoop`).
    public let eventLoop: (any EventLoop)?
    private let loopBroadcasts: LoopBroadcasts?
    /// The app this connection belongs to.
    public let app: App

    /// Creates a session for a connection of `app` speaking `encoder`'s wire format; with `compressor`, frames
    /// it compresses go out compressed (broadcasts are compressed once by the hub, for every session sharing it).
    public init(
        connectionID: ConnectionID,
        app: App,
        encoder: any FrameEncoder,
        maxQueuedFrames: Int = 4096,
        maxQueuedBytes: Int = ClientLimits().maxQueuedBytes,
        compressor: (any FrameCompressor)? = nil,
        eventLoop: (any EventLoop)? = nil
    ) {
        self.eventLoop = eventLoop
        self.loopBroadcasts = eventLoop.map { LoopBroadcasts.for($0) }
        self.connectionID = connectionID
        self.app = app
        self.encoder = encoder
        self.maxQueuedFrames = maxQueuedFrames
        self.maxQueuedBytes = maxQueuedBytes
        self.compressor = compressor
    }

    /// Returns once the broadcasts already on their way to this connection's event loop are queued on its subscribers,
    /// so a reply sent next comes after any of them this connection takes (a reply is queued at once, they in a task).
    public func afterBroadcastsOnTheirWay() async {
        guard let loop = self.eventLoop, self.loopBroadcasts?.pending == true else { return }
        try? await loop.submit {}.get()
    }

    /// Why the session ended, once it has.
    public var end: SessionEnd? { self.state.withLock { $0.end } }

    @discardableResult
    public func deliver(_ frame: ByteBuffer, of message: BusMessage) -> EnqueueResult {
        self.deliver(frame, compressed: self.compressor?.compress(frame), of: message)
    }

    @discardableResult
    public func deliver(_ frame: ByteBuffer, compressed: ByteBuffer?, of message: BusMessage) -> EnqueueResult {
        self.deliver(PreparedFrame(bytes: compressed ?? frame, compressed: compressed != nil), of: message)
    }

    @discardableResult
    public func deliver(_ frame: PreparedFrame, of message: BusMessage) -> EnqueueResult {
        // The hub's frames carry their channel and offset and are queued as they are; others are read from the message.
        guard frame.channel == nil else { return self.enqueue(OutgoingFrame(frame), recoverable: true) }
        let outgoing = OutgoingFrame(
            bytes: frame.bytes,
            channel: message.channel,
            offset: message.offset,
            compressed: frame.compressed,
            wire: frame.wire
        )
        return self.enqueue(outgoing, recoverable: true)
    }

    /// Queues a reply frame of the connection's own (not a channel message), compressed on its own when it is worth it.
    @discardableResult
    public func send(_ frame: ByteBuffer) -> EnqueueResult {
        self.enqueue(self.outgoing(frame), recoverable: false)
    }

    /// `bytes` as this session sends it: compressed when the session compresses and the compressor takes it.
    func outgoing(_ bytes: ByteBuffer, channel: String? = nil, offset: UInt64? = nil) -> OutgoingFrame {
        if let compressed = self.compressor?.compress(bytes) {
            return OutgoingFrame(bytes: compressed, channel: channel, offset: offset, compressed: true)
        }
        return OutgoingFrame(bytes: bytes, channel: channel, offset: offset)
    }

    private func enqueue(_ frame: OutgoingFrame, recoverable: Bool) -> EnqueueResult {
        let (result, wake) = self.state.withLock { state -> (EnqueueResult, Wake?) in
            guard state.end == nil else { return (.closed, nil) }
            if recoverable, !state.left.isEmpty, let channel = frame.channel, state.left[channel] != nil {
                return (.closed, nil)
            }
            if recoverable, !state.replayedThrough.isEmpty, let channel = frame.channel, let offset = frame.offset,
                let last = state.replayedThrough[channel], offset <= last
            {
                return (.queued, nil)
            }
            if recoverable, !state.recovering.isEmpty, let channel = frame.channel, state.recovering[channel] != nil {
                // Held-back frames count too: a channel replaying for long must not grow without bound.
                let bytes = frame.bytes.readableBytes
                guard state.recovering[channel]!.count < self.maxQueuedFrames, state.recoveringBytes + bytes <= self.maxQueuedBytes else {
                    return (.overflow, state.overflow())
                }
                state.recovering[channel]!.append(frame)
                state.recoveringBytes += bytes
                return (.queued, nil)
            }
            let wake = state.push(frame, limits: self.limits)
            self.queueAddress.store(state.queueAddress, ordering: .relaxed)
            return (state.end == .tooSlow ? .overflow : .queued, wake)
        }
        Self.run(wake)
        return result
    }

    private static func run(_ wake: Wake?) {
        switch wake {
        case .waiter(let waiter, let frames): waiter.resume(returning: frames.isEmpty ? nil : frames)
        case .writer(let writer): writer()
        case nil: break
        }
    }

    /// Switches the session to direct writing: `wake` is called (outside any lock) when frames are waiting and
    /// no wake-up is pending; the writer then takes them all with `takeForWriting()`. `next()` then only reports the end.
    public func attachWriter(_ wake: @escaping @Sendable () -> Void) {
        let pending = self.state.withLock { state -> Bool in
            state.writer = wake
            guard !state.queue.isEmpty else { return false }
            state.writerWoken = true
            return true
        }
        if pending { wake() }
    }

    /// Takes every queued frame for a direct writer into `frames` (empty), and returns whether the session has ended
    /// (read under the same lock, so nothing can be queued after frames taken from an ended session); the next frame
    /// wakes the writer again. The queue and `frames` trade storage, so a busy connection reuses two arrays.
    /// While the socket is not `writable` a live session's frames stay queued: its bound decides when it is too slow.
    public func takeForWriting(into frames: inout [OutgoingFrame], writable: Bool = true) -> Bool {
        let (ended, waiters) = self.state.withLock { state -> (Bool, [CheckedContinuation<Bool, Never>]) in
            state.writerWoken = false
            let ended = state.end != nil
            guard writable || ended else { return (false, []) }
            swap(&state.queue, &frames)
            state.queuedBytes = 0
            self.queueAddress.store(state.queueAddress, ordering: .relaxed)
            var waiters: [CheckedContinuation<Bool, Never>] = []
            if !state.drainWaiters.isEmpty { swap(&waiters, &state.drainWaiters) }
            return (ended, waiters)
        }
        Self.resume(waiters, drained: !ended)
        return ended
    }

    /// How long a left channel's broadcasts are dropped: a broadcast hands its frames to the connection's loop within
    /// moments of the hub's change, and one later than this is taken rather than the mark kept without bound.
    static let leftFor = TimeAmount.seconds(1)

    public func left(channel: String) {
        // Without a loop, broadcasts are queued on the broadcasting thread at once: none is left on its way.
        guard let loop = self.eventLoop else { return }
        // An ended session takes nothing more: its closing connection's channels need no mark.
        let leave = self.state.withLock { state -> Int? in
            guard state.end == nil else { return nil }
            state.leaves += 1
            state.left[channel] = state.leaves
            return state.leaves
        }
        guard let leave else { return }
        loop.scheduleTask(in: Self.leftFor) {
            self.state.withLock { state in
                if state.left[channel] == leave { state.left[channel] = nil }
            }
        }
    }

    public func prefetchQueue() {
        // The array's header (its count and capacity) sits just before its elements; two lines take in both.
        let elements = self.queueAddress.load(ordering: .relaxed)
        if elements != 0 { switchboard_prefetch(elements &- 32, 2) }
    }

    public func hears(presenceOf channel: String) -> Bool {
        self.state.withLock { $0.quietPresence.isEmpty || !$0.quietPresence.contains(channel) }
    }

    /// Drops (`quiet`) or delivers again the presence changes of `channel`, for a protocol whose client chooses per
    /// subscription whether it hears joins and leaves.
    public func hearPresence(_ hear: Bool, on channel: String) {
        self.state.withLock { state in
            if hear { state.quietPresence.remove(channel) } else { state.quietPresence.insert(channel) }
        }
    }

    public func joined(channel: String) {
        self.state.withLock { state in
            if !state.left.isEmpty { state.left[channel] = nil }
        }
    }

    /// Holds live messages of `channel` back until `finishRecovery` merges them with history.
    public func beginRecovery(channel: String) {
        self.state.withLock { $0.recovering[channel] = $0.recovering[channel] ?? [] }
    }

    /// Delivers `history` after `offset`, then the live messages held back, with no gap and no duplicate.
    ///
    /// `sentThrough` is the last offset the client already got another way (the JWT protocol's subscribe reply carries
    /// recovered publications): a broadcast up to it still on its way is not sent again.
    public func finishRecovery(channel: String, after offset: UInt64, history: [Publication], sentThrough: UInt64? = nil) {
        if let sentThrough {
            self.state.withLock { $0.replayedThrough[channel] = max($0.replayedThrough[channel] ?? 0, sentThrough) }
        }
        self.recover(channel: channel, after: offset, history: history, finishing: true)
    }

    /// Delivers one page of a replay still under way (`history` after `offset`), holding live messages back as before;
    /// the next page waits for `drained()`, so a long replay never fills the queue.
    public func continueRecovery(channel: String, after offset: UInt64, history: [Publication]) {
        self.recover(channel: channel, after: offset, history: history, finishing: false)
    }

    private func recover(channel: String, after offset: UInt64, history: [Publication], finishing: Bool) {
        let replay = history.compactMap { publication -> OutgoingFrame? in
            guard let bytes = self.encoder.frame(for: .publication(publication)) else { return nil }
            return self.outgoing(bytes, channel: channel, offset: publication.position?.offset)
        }
        let wake = self.state.withLock { state -> Wake? in
            var buffered: [OutgoingFrame] = []
            if finishing, let held = state.recovering.removeValue(forKey: channel) {
                buffered = held
                state.recoveringBytes -= held.reduce(0) { $0 + $1.bytes.readableBytes }
            }
            guard state.end == nil else { return nil }
            let merged = Recovery.merge(after: offset, history: replay, buffered: buffered, offset: \.offset)
            // A broadcast may still be on its way through the event loop: what the replay covered is not sent again
            // (nor held back while later pages are read).
            if let last = merged.compactMap(\.offset).max() { state.replayedThrough[channel] = last }
            return merged.isEmpty ? nil : state.push(merged, limits: self.limits)
        }
        Self.run(wake)
    }

    /// Returns true once the writer has taken every queued frame, false if the session ends first: a replay queues its
    /// next page only when the client has read the last, at the pace of the client's own reading.
    public func drained() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let now = self.state.withLock { state -> Bool? in
                if state.end != nil { return false }
                if state.queue.isEmpty { return true }
                state.drainWaiters.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Tells the replays waiting for `drained()` that the queue was emptied, or that the session ended.
    private static func resume(_ waiters: [CheckedContinuation<Bool, Never>], drained: Bool) {
        for waiter in waiters { waiter.resume(returning: drained) }
    }

    /// Waits for queued frames and takes them all; nil once the session has ended and its queue is drained.
    ///
    /// With a direct writer attached, it returns nil when the session ends and never returns frames.
    public func next() async -> [OutgoingFrame]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[OutgoingFrame]?, Never>) in
            let (ready, waiters) = self.state.withLock { state -> ([OutgoingFrame]??, [CheckedContinuation<Bool, Never>]) in
                let waiters = state.drainWaiters
                state.drainWaiters = []
                if state.writer == nil, !state.queue.isEmpty {
                    let frames = state.queue
                    state.queue = []
                    state.queuedBytes = 0
                    state.queue.reserveCapacity(min(frames.count, 64))
                    return (.some(frames), waiters)
                }
                if state.end != nil { return (.some(nil), waiters) }
                state.waiter = continuation
                state.drainWaiters = waiters
                return (.none, [])
            }
            Self.resume(waiters, drained: ready??.isEmpty == false)
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Takes what is queued now without waiting (tests, and transports that poll).
    public func takeQueued() -> [OutgoingFrame] {
        let (taken, waiters) = self.state.withLock { state in
            defer {
                state.queue = []
                state.queuedBytes = 0
                state.drainWaiters = []
            }
            return (state.queue, state.drainWaiters)
        }
        Self.resume(waiters, drained: true)
        return taken
    }

    /// Ends the session; frames already queued are still drained unless it is too slow. A direct writer is woken to
    /// write them and close. A `farewell` is queued under the same lock, so no broadcast can slip in after it.
    public func close(_ reason: SessionEnd = .normal, farewell: ByteBuffer? = nil) {
        let last = farewell.map { self.outgoing($0) }
        let (wake, waiter, writer, replays) = self.state.withLock {
            state -> (Wake?, Waiter?, (@Sendable () -> Void)?, [CheckedContinuation<Bool, Never>]) in
            let replays = state.drainWaiters
            state.drainWaiters = []
            guard state.end == nil else {
                defer { state.waiter = nil }
                return (nil, state.waiter, nil, replays)
            }
            let wake = last.flatMap { state.push($0, limits: self.limits) }
            if state.end == nil { state.end = reason }
            let waiter = state.waiter
            state.waiter = nil
            guard let writer = state.writer, !state.writerWoken else { return (wake, waiter, nil, replays) }
            state.writerWoken = true
            return (wake, waiter, writer, replays)
        }
        Self.run(wake)
        waiter?.resume(returning: nil)
        Self.resume(replays, drained: false)
        writer?()
    }
}

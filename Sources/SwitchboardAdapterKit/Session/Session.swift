public import NIOCore
public import SwitchboardCore
import Synchronization

/// One frame ready for a transport, with the stream position it carries (SSE turns it into a cursor).
public struct OutgoingFrame: Sendable {
    /// The encoded frame.
    public var bytes: ByteBuffer
    /// The channel and offset of the message, when it has one.
    public var channel: String?
    /// The message's offset in its channel.
    public var offset: UInt64?
}

/// Why a session ended.
public enum SessionEnd: Sendable, Equatable {
    /// The client could not keep up: its queue overflowed.
    case tooSlow
    /// The server is shutting down; clients should reconnect.
    case shutdown
    /// Closed by the client or the server as usual.
    case normal
}

/// One client connection's outbound side: a bounded queue of ready frames that a transport drains.
///
/// The bus queues frames and returns at once; the transport takes everything queued with one call and
/// writes it with one flush, so frames coalesce when they pile up and go out at once when they don't.
/// Overflow ends the session as too slow instead of growing memory or blocking the broadcaster.
public final class Session: Subscriber {
    struct State {
        var queue: [OutgoingFrame] = []
        var waiter: CheckedContinuation<[OutgoingFrame]?, Never>?
        var end: SessionEnd?
        var recovering: [String: [OutgoingFrame]] = [:]
    }

    public let connectionID: ConnectionID
    public let encoder: any FrameEncoder
    /// The app this connection belongs to.
    public let app: App
    /// The most frames queued before the session is closed as too slow.
    public let maxQueuedFrames: Int
    private let state = Mutex(State())

    /// Creates a session for a connection of `app` speaking `encoder`'s wire format.
    public init(connectionID: ConnectionID, app: App, encoder: any FrameEncoder, maxQueuedFrames: Int = 4096) {
        self.connectionID = connectionID
        self.app = app
        self.encoder = encoder
        self.maxQueuedFrames = maxQueuedFrames
    }

    /// Why the session ended, once it has.
    public var end: SessionEnd? { self.state.withLock { $0.end } }

    @discardableResult
    public func deliver(_ frame: ByteBuffer, of message: BusMessage) -> EnqueueResult {
        var outgoing = OutgoingFrame(bytes: frame, channel: message.channel, offset: nil)
        if case .publication(let publication) = message { outgoing.offset = publication.position?.offset }
        return self.enqueue(outgoing, recoverable: true)
    }

    /// Queues a reply frame of the connection's own (not a channel message).
    @discardableResult
    public func send(_ frame: ByteBuffer) -> EnqueueResult {
        self.enqueue(OutgoingFrame(bytes: frame), recoverable: false)
    }

    private func enqueue(_ frame: OutgoingFrame, recoverable: Bool) -> EnqueueResult {
        let (result, wake) = self.state.withLock { state -> (EnqueueResult, (CheckedContinuation<[OutgoingFrame]?, Never>, [OutgoingFrame]?)?) in
            guard state.end == nil else { return (.closed, nil) }
            if recoverable, let channel = frame.channel, state.recovering[channel] != nil {
                state.recovering[channel]!.append(frame)
                return (.queued, nil)
            }
            return Self.push(frame, into: &state, limit: self.maxQueuedFrames)
        }
        if let (waiter, frames) = wake { waiter.resume(returning: frames) }
        return result
    }

    private static func push(_ frame: OutgoingFrame, into state: inout State, limit: Int)
        -> (EnqueueResult, (CheckedContinuation<[OutgoingFrame]?, Never>, [OutgoingFrame]?)?)
    {
        if let waiter = state.waiter {
            state.waiter = nil
            return (.queued, (waiter, [frame]))
        }
        guard state.queue.count < limit else {
            state.end = .tooSlow
            state.queue.removeAll()
            state.recovering.removeAll()
            return (.overflow, nil)
        }
        state.queue.append(frame)
        return (.queued, nil)
    }

    /// Holds live messages of `channel` back until `finishRecovery` merges them with history.
    public func beginRecovery(channel: String) {
        self.state.withLock { $0.recovering[channel] = $0.recovering[channel] ?? [] }
    }

    /// Delivers `history` after `offset`, then the live messages held back, with no gap and no duplicate.
    public func finishRecovery(channel: String, after offset: UInt64, history: [Publication]) {
        let replay = history.compactMap { publication -> OutgoingFrame? in
            guard let bytes = self.encoder.frame(for: .publication(publication)) else { return nil }
            return OutgoingFrame(bytes: bytes, channel: channel, offset: publication.position?.offset)
        }
        let wake = self.state.withLock { state -> (CheckedContinuation<[OutgoingFrame]?, Never>, [OutgoingFrame]?)? in
            let buffered = state.recovering.removeValue(forKey: channel) ?? []
            guard state.end == nil else { return nil }
            let merged = Recovery.merge(after: offset, history: replay, buffered: buffered, offset: \.offset)
            if merged.isEmpty { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, merged)
            }
            if state.queue.count + merged.count > self.maxQueuedFrames {
                state.end = .tooSlow
                state.queue.removeAll()
                return nil
            }
            state.queue.append(contentsOf: merged)
            return nil
        }
        if let (waiter, frames) = wake { waiter.resume(returning: frames) }
    }

    /// Waits for queued frames and takes them all; nil once the session has ended and its queue is drained.
    public func next() async -> [OutgoingFrame]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[OutgoingFrame]?, Never>) in
            let ready = self.state.withLock { state -> [OutgoingFrame]?? in
                if !state.queue.isEmpty {
                    let frames = state.queue
                    state.queue = []
                    state.queue.reserveCapacity(min(frames.count, 64))
                    return .some(frames)
                }
                if state.end != nil { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Takes what is queued now without waiting (tests, and transports that poll).
    public func takeQueued() -> [OutgoingFrame] {
        self.state.withLock { state in
            defer { state.queue = [] }
            return state.queue
        }
    }

    /// Ends the session; frames already queued are still drained unless it is too slow.
    public func close(_ reason: SessionEnd = .normal) {
        let waiter = self.state.withLock { state -> CheckedContinuation<[OutgoingFrame]?, Never>? in
            if state.end == nil { state.end = reason }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: nil)
    }
}

import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// One admitted stream: its session, its cursor and what it holds until it ends. The edge's HTTP/1.1 transport writes
/// it from the connection's event loop (`EventStream`); over h2 the response body's task writes it
/// (`SSEAdapter.body`).
final class SSEStream: EventStream, @unchecked Sendable {
    let session: Session
    let keepalive: Duration
    let environment: AdapterEnvironment
    let caller: Caller
    /// With a token, the stream lasts as long as the grant.
    let grant: SSEStreamGrant?
    /// The place the stream takes among its address's connections.
    let address: AddressHold
    let lease: SSEStreamLease
    /// Resumed channels, caught up once the stream is open, in pages its client reads (`Session.catchUp`).
    let catchUps: [(channel: String, after: UInt64, latest: UInt64)]
    /// The id every message carries; touched by one writer at a time.
    private var cursor: SSECursor
    private let life = Mutex(Life())

    private struct Life {
        var began = false
        var ended = false
        var goodbye: ShutdownNotice.Token?
        var expiry: Scheduled<Void>?
        var catchingUp: Task<Void, Never>?
    }

    init(
        session: Session,
        keepalive: Duration,
        environment: AdapterEnvironment,
        caller: Caller,
        grant: SSEStreamGrant?,
        address: AddressHold,
        lease: SSEStreamLease,
        cursor: SSECursor,
        catchUps: [(channel: String, after: UInt64, latest: UInt64)]
    ) {
        self.session = session
        self.keepalive = keepalive
        self.environment = environment
        self.caller = caller
        self.grant = grant
        self.address = address
        self.lease = lease
        self.cursor = cursor
        self.catchUps = catchUps
    }

    func opening() -> ByteBuffer {
        var opening = ByteBuffer(string: "retry: 2000\n")
        if !self.cursor.isEmpty { Self.writeID(self.cursor, into: &opening) }
        opening.writeString(": connected\n\n")
        return opening
    }

    func append(_ frame: OutgoingFrame, to batch: inout ByteBuffer) {
        // The id names every channel's position, so Last-Event-ID resumes them all; a message of a channel that keeps
        // no history carries it too, unchanged, so every message has its id as the contract says.
        if let channel = frame.channel, let offset = frame.offset {
            self.cursor.advance(channel, to: offset)
            Self.writeID(self.cursor, into: &batch)
        } else if frame.channel != nil, !self.cursor.isEmpty {
            Self.writeID(self.cursor, into: &batch)
        }
        batch.writeImmutableBuffer(frame.bytes)
    }

    static func writeID(_ cursor: SSECursor, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("id: ")
        cursor.write(into: &buffer)
        buffer.writeStaticString("\n")
    }

    func began(on eventLoop: any EventLoop) {
        let session = self.session
        let app = session.app
        let grant = self.grant
        self.environment.connections.opened("sse")
        // Shutdown, a disabled app, a blocked address and a revoked key end the stream as they end WebSocket connections.
        let goodbye = self.environment.shutdown.register(
            app: app.id,
            caller: self.caller,
            revoked: { revoked in
                guard let grant, grant.isSigned(by: revoked) else { return }
                SSEAdapter.end(session, .tokenRevoked)
            }
        ) { farewell in
            session.close(farewell == .shutdown ? .shutdown : .normal)
        }
        let expiry = grant?.remaining(now: WallClock.milliseconds()).map { lifetime in
            eventLoop.scheduleTask(in: TimeAmount(lifetime)) { SSEAdapter.end(session, .tokenExpired) }
        }
        let bus = self.environment.bus
        let pending = self.catchUps
        let catchingUp =
            pending.isEmpty
            ? nil
            : Task {
                for (channel, after, latest) in pending {
                    await session.catchUp(channel: channel, after: after, through: latest, bus: bus, app: app)
                }
            }
        let late = self.life.withLock { life -> Bool in
            life.began = true
            (life.goodbye, life.expiry, life.catchingUp) = (goodbye, expiry, catchingUp)
            return life.ended
        }
        if late { self.release(goodbye: goodbye, expiry: expiry, catchingUp: catchingUp, counted: true) }
    }

    func ended() {
        let held = self.life.withLock { life -> Life? in
            guard !life.ended else { return nil }
            life.ended = true
            return life
        }
        guard let held else { return }
        self.release(goodbye: held.goodbye, expiry: held.expiry, catchingUp: held.catchingUp, counted: held.began)
    }

    /// Gives back what the stream holds: its timers and registration, its place, its subscriptions and connection.
    private func release(goodbye: ShutdownNotice.Token?, expiry: Scheduled<Void>?, catchingUp: Task<Void, Never>?, counted: Bool) {
        // A catch-up waiting for the client to read ends with the stream.
        self.session.close(.normal)
        catchingUp?.cancel()
        expiry?.cancel()
        if let goodbye { self.environment.shutdown.unregister(goodbye) }
        if counted { self.environment.connections.closed("sse") }
        self.address.release()
        let lease = self.lease
        Task { await lease.end() }
    }
}

public import NIOCore
import Synchronization

/// An admitted `text/event-stream` response that the edge's HTTP/1.1 transport writes from the connection's event loop
/// (`EventStreamWriter`), so an open stream holds no task, as an upgraded WebSocket holds none.
///
/// The route builds it and leaves it in the request's `EventStreamSlot`; the transport writes the response head, then
/// `opening()`, then the session's frames, until the session ends or the client goes.
public protocol EventStream: AnyObject, Sendable {
    /// The session whose frames the stream carries.
    var session: Session { get }
    /// Time between keepalive comments.
    var keepalive: Duration { get }
    /// The first bytes of the body, written before any frame.
    func opening() -> ByteBuffer
    /// Adds `frame` to `batch` as the stream writes it (SSE puts an `id:` line first); one writer calls it at a time.
    func append(_ frame: OutgoingFrame, to batch: inout ByteBuffer)
    /// The stream has begun writing on `eventLoop`: its timers and registrations start.
    func began(on eventLoop: any EventLoop)
    /// The stream is over (or will never begin); gives back what it holds. Called once.
    func ended()
}

/// Where a route that opens an event stream leaves it for the transport. The HTTP/1.1 transport puts a slot in the
/// context of the request it can write a stream for; without one (h2), the route writes the stream as a response body.
public final class EventStreamSlot: Sendable {
    private let stream = Mutex<(any EventStream)?>(nil)

    /// An empty slot.
    public init() {}

    /// Hands `stream` to the transport.
    public func set(_ stream: any EventStream) { self.stream.withLock { $0 = stream } }

    /// The stream a route left, once.
    public func take() -> (any EventStream)? { self.stream.withLock { $0.take() } }
}

public import NIOCore

/// One WebSocket connection's protocol logic, driven by the transport (`WebSocketConnectionHandler`) with no task of
/// its own: idle, a connection is a few objects on its event loop.
///
/// The transport hands it the client's messages one at a time, writes what its session queues, and closes the socket
/// with `closeFrame()` once the session ends.
public protocol WebSocketEndpoint: AnyObject, Sendable {
    /// The connection's outbound queue.
    var session: Session { get }
    /// The largest message the client may send, over all its frames.
    var maxMessageBytes: Int { get }
    /// Takes one message from the client; calls never overlap. False: the server is done with the client's input.
    func receive(_ message: ByteBuffer) async -> Bool
    /// Whether a message over `maxMessageBytes` gets the protocol's own refusal (`receiveOversized`) and the
    /// connection goes on; otherwise the socket is closed with 1009.
    var answersOversizedMessages: Bool { get }
    /// A message over `limit` bytes, dropped unread, in its place among the others; false as for `receive`.
    func receiveOversized(limit: Int) async -> Bool
    /// The close code and reason for the session's end, sent after the last queued frame.
    func closeFrame() -> (code: UInt16, reason: String?)
    /// The client broke RFC 6455 (1002, 1007, 1009); the transport closes the socket with the violation's code.
    func violated(_ violation: WebSocketViolation)
    /// The socket is gone: give back what the connection held. Runs after the last `receive`.
    func closed() async
}

extension WebSocketEndpoint {
    /// By default a message over the limit closes the socket with 1009.
    public var answersOversizedMessages: Bool { false }
    public func receiveOversized(limit: Int) async -> Bool { false }
}

/// What the transport offers an endpoint: timers on the connection's event loop and work in its receive order.
public protocol WebSocketLink: Sendable {
    /// Runs `tick` on the event loop after `delay`, then again after each delay it returns, until it returns nil or the
    /// socket closes.
    func schedule(after delay: Duration, _ tick: @escaping @Sendable () -> Duration?)
    /// Runs `work` after the messages received so far, before the next one (revocations, token expiry).
    func perform(_ work: @escaping @Sendable () async -> Void)
}

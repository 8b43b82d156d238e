public import NIOCore

/// A protocol's connection as its WebSocket transport needs it; `LeasedEndpoint` adds the lease every protocol holds.
public protocol SocketConnection: AnyObject, Sendable {
    /// The connection's outbound queue.
    var session: Session { get }
    /// Handles one client message; false once the server is done with the client's input.
    func read(_ message: ByteBuffer) async -> Bool
    /// The close code and reason for the session's end.
    func closeFrame() -> (code: UInt16, reason: String?)
    /// The socket is gone, after the last `read`: let go of channels, presence and registrations.
    func socketClosed() async
    /// Whether a message over the size limit gets this protocol's refusal (`readOversized`) instead of a 1009 close.
    var answersOversizedMessages: Bool { get }
    /// A message over `limit` bytes, dropped unread; false once the server is done with the client's input.
    func readOversized(limit: Int) async -> Bool
}

extension SocketConnection {
    /// By default the transport closes the socket with 1009, as RFC 6455 has it (and Centrifugo does).
    public var answersOversizedMessages: Bool { false }
    public func readOversized(limit: Int) async -> Bool { false }
}

/// A protocol's connection and its lease, as the WebSocket transport drives them: the same in every protocol, so an
/// adapter writes only what its connection does.
public final class LeasedEndpoint<Connection: SocketConnection>: WebSocketEndpoint {
    public let connection: Connection
    public let lease: EndpointLease

    public init(connection: Connection, lease: EndpointLease) {
        self.connection = connection
        self.lease = lease
    }

    public var session: Session { self.connection.session }
    public var maxMessageBytes: Int { self.lease.maxMessageBytes }
    public func receive(_ message: ByteBuffer) async -> Bool { await self.connection.read(message) }
    public var answersOversizedMessages: Bool { self.connection.answersOversizedMessages }
    public func receiveOversized(limit: Int) async -> Bool { await self.connection.readOversized(limit: limit) }
    public func closeFrame() -> (code: UInt16, reason: String?) { self.connection.closeFrame() }
    public func violated(_ violation: WebSocketViolation) { self.lease.report(violation) }

    /// The connection lets go first, then the lease gives back the plan's count and the shutdown registration.
    public func closed() async {
        await self.connection.socketClosed()
        self.lease.release()
    }
}

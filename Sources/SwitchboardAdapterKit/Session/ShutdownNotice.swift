import Synchronization

/// Lets adapters say goodbye to their WebSocket clients before the HTTP server begins its own shutdown.
///
/// On graceful shutdown the WebSocket library closes every open connection with code 1000 at once, which
/// races any frame an adapter queues from its own shutdown handler (JSON-action's `reconnect` error,
/// Pusher's 4200, the JWT protocol's 3001) and usually wins. The edge calls `announce()` first, waits until
/// the goodbyes are written and the connections gone (`pending == 0`, bounded), and only then shuts the
/// server down.
public final class ShutdownNotice: Sendable {
    /// Identifies one registered goodbye, for `unregister`.
    public struct Token: Sendable, Hashable {
        let raw: UInt64
    }

    struct State {
        var goodbyes: [UInt64: @Sendable () -> Void] = [:]
        var next: UInt64 = 0
        var announced = false
    }

    private let state = Mutex(State())

    /// Creates a notice nobody has announced yet.
    public init() {}

    /// Registers what a connection does when the edge shuts down; call `unregister` when the connection ends.
    ///
    /// A connection that registers after the announcement says goodbye at once.
    public func register(_ goodbye: @escaping @Sendable () -> Void) -> Token {
        let (token, late) = self.state.withLock { state -> (Token, Bool) in
            state.next += 1
            let token = Token(raw: state.next)
            state.goodbyes[token.raw] = goodbye
            return (token, state.announced)
        }
        if late { goodbye() }
        return token
    }

    /// Forgets a connection that ended.
    public func unregister(_ token: Token) {
        _ = self.state.withLock { $0.goodbyes.removeValue(forKey: token.raw) }
    }

    /// Runs every registered goodbye once; later registrations run theirs at once.
    public func announce() {
        let goodbyes = self.state.withLock { state -> [@Sendable () -> Void] in
            guard !state.announced else { return [] }
            state.announced = true
            return Array(state.goodbyes.values)
        }
        for goodbye in goodbyes { goodbye() }
    }

    /// Connections registered and not yet ended.
    public var pending: Int { self.state.withLock { $0.goodbyes.count } }
}

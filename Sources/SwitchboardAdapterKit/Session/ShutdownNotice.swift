import Synchronization

/// Why a connection is sent away: the edge is shutting down (reconnect elsewhere) or its app was disabled (do not).
public enum Farewell: Sendable, Equatable {
    case shutdown
    case appDisabled
}

/// Lets adapters say goodbye to their WebSocket clients before the HTTP server begins its own shutdown, and to
/// the clients of an app the admin API disables.
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
        var goodbyes: [UInt64: (app: String, goodbye: @Sendable (Farewell) -> Void)] = [:]
        var next: UInt64 = 0
        var announced = false
    }

    private let state = Mutex(State())

    /// Creates a notice nobody has announced yet.
    public init() {}

    /// Registers what a connection of `app` does when sent away; call `unregister` when the connection ends.
    ///
    /// A connection that registers after the shutdown announcement says goodbye at once.
    public func register(app: String, _ goodbye: @escaping @Sendable (Farewell) -> Void) -> Token {
        let (token, late) = self.state.withLock { state -> (Token, Bool) in
            state.next += 1
            let token = Token(raw: state.next)
            state.goodbyes[token.raw] = (app, goodbye)
            return (token, state.announced)
        }
        if late { goodbye(.shutdown) }
        return token
    }

    /// Forgets a connection that ended.
    public func unregister(_ token: Token) {
        _ = self.state.withLock { $0.goodbyes.removeValue(forKey: token.raw) }
    }

    /// Runs every registered goodbye once; later registrations run theirs at once.
    public func announce() {
        let goodbyes = self.state.withLock { state -> [@Sendable (Farewell) -> Void] in
            guard !state.announced else { return [] }
            state.announced = true
            return state.goodbyes.values.map(\.goodbye)
        }
        for goodbye in goodbyes { goodbye(.shutdown) }
    }

    /// Sends away every connection of `app` (it was disabled); they end as their goodbyes say.
    public func dismiss(app: String) {
        let goodbyes = self.state.withLock { state in state.goodbyes.values.filter { $0.app == app }.map(\.goodbye) }
        for goodbye in goodbyes { goodbye(.appDisabled) }
    }

    /// Connections registered and not yet ended.
    public var pending: Int { self.state.withLock { $0.goodbyes.count } }
}

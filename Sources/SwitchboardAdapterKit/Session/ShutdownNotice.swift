import Synchronization

/// Why a connection is sent away: the edge is shutting down (reconnect elsewhere), or its app was disabled or its
/// address blocked (do not).
public enum Farewell: Sendable, Equatable {
    case shutdown
    case appDisabled
    /// The client's address was added to `[server] blocked_addresses`.
    case addressBlocked
}

/// Lets adapters say goodbye to their clients before the HTTP server begins its own shutdown, to the clients of an
/// app the admin API disables, and end what a revoked key authorized.
///
/// On graceful shutdown the WebSocket library closes every open connection with code 1000 at once, which
/// races any frame an adapter queues from its own shutdown handler (JSON-action's `reconnect` error,
/// Pusher's 4200, the JWT protocol's 3001) and usually wins. The edge calls `announce()` first, waits until
/// the goodbyes are written and the connections gone (`pending == 0`, bounded), and only then shuts the
/// server down.
///
/// A revoked key is not a goodbye to everyone: `revoke(app:signer:)` asks each connection of the app to end the
/// grants that key signed (subscriptions, or the whole connection when its own token was signed with it), each in its
/// protocol's way, and returns once they all have. Ending a subscription leaves the bus, so that handler is async.
public final class ShutdownNotice: Sendable {
    /// Identifies one registered goodbye, for `unregister`.
    public struct Token: Sendable, Hashable {
        let raw: UInt64
    }

    /// What a connection does when a key of its app is revoked: ends the grants that key signed.
    public typealias Revocation = @Sendable (KeyFingerprint) async -> Void

    struct Entry {
        var app: String
        /// The client's address and, behind a trusted proxy, the proxy's: kept as text (the caller's other fields are
        /// not kept), parsed only when a reload blocks addresses.
        var client: String?
        var proxy: String?
        var goodbye: @Sendable (Farewell) -> Void
        var revoked: Revocation?
    }

    struct State {
        var goodbyes: [UInt64: Entry] = [:]
        var next: UInt64 = 0
        var announced = false
    }

    private let state = Mutex(State())

    /// Creates a notice nobody has announced yet.
    public init() {}

    /// Registers what a connection of `app` does when sent away, and, with `revoked`, when a key of its app is revoked;
    /// call `unregister` when the connection ends.
    ///
    /// A connection that registers after the shutdown announcement says goodbye at once. `caller` (its client's address
    /// and the trusted proxy's it came through) lets `dismiss(addresses:)` find it.
    public func register(
        app: String,
        caller: Caller? = nil,
        revoked: Revocation? = nil,
        _ goodbye: @escaping @Sendable (Farewell) -> Void
    ) -> Token {
        let entry = Entry(app: app, client: caller?.ip, proxy: caller?.proxy, goodbye: goodbye, revoked: revoked)
        let (token, late) = self.state.withLock { state -> (Token, Bool) in
            state.next += 1
            let token = Token(raw: state.next)
            state.goodbyes[token.raw] = entry
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

    /// Sends away every connection whose client, or the trusted proxy it came through, is in `addresses` (they were just
    /// blocked); returns how many.
    @discardableResult
    public func dismiss(addresses: AddressRanges) -> Int {
        guard !addresses.isEmpty else { return 0 }
        // Parsed outside the lock: a reload must not stall every connection's register and unregister meanwhile.
        let entries = self.state.withLock { Array($0.goodbyes.values) }
        let goodbyes = entries.filter { addresses.contains(client: $0.client, proxy: $0.proxy) }.map(\.goodbye)
        for goodbye in goodbyes { goodbye(.addressBlocked) }
        return goodbyes.count
    }

    /// True once the shutdown was announced: the node is draining (`/ready` answers 503).
    public var isAnnounced: Bool { self.state.withLock { $0.announced } }

    /// Ends, on this node, every grant of `app`'s connections that the key `signer` names had signed; returns when every
    /// connection concerned has ended them (its frames queued, its subscriptions left).
    public func revoke(app: String, signer: KeyFingerprint) async {
        let handlers = self.state.withLock { state in state.goodbyes.values.filter { $0.app == app }.compactMap(\.revoked) }
        await withTaskGroup(of: Void.self) { group in
            for handler in handlers { group.addTask { await handler(signer) } }
        }
    }

    /// Connections registered and not yet ended.
    public var pending: Int { self.state.withLock { $0.goodbyes.count } }
}

import SwitchboardCore
import Synchronization

/// The JWT-protocol connections open on this node, by app and user, for the server API's
/// `disconnect`, `subscribe` and `unsubscribe`.
public final class JWTRegistry: Sendable {
    private let connections = Mutex<[String: [String: JWTConnection]]>([:])

    /// Creates an empty registry.
    public init() {}

    /// Adds a connection once it has connected.
    func add(_ connection: JWTConnection) {
        self.connections.withLock { $0[connection.app.id, default: [:]][connection.clientID] = connection }
    }

    /// Removes a connection that ended.
    func remove(_ connection: JWTConnection) {
        self.connections.withLock { all in
            all[connection.app.id]?[connection.clientID] = nil
            if all[connection.app.id]?.isEmpty == true { all[connection.app.id] = nil }
        }
    }

    /// The connections of `user` in `app`, or only the one with id `client` when given.
    func connections(app: String, user: String, client: String? = nil) -> [JWTConnection] {
        let candidates = self.connections.withLock { all -> [JWTConnection] in
            guard let byClient = all[app] else { return [] }
            if let client { return byClient[client].map { [$0] } ?? [] }
            return Array(byClient.values)
        }
        return candidates.filter { $0.user == user }
    }

    /// Open connections of `app` and their distinct users.
    func counts(app: String) -> (clients: Int, users: Int) {
        let list = self.connections.withLock { Array(($0[app] ?? [:]).values) }
        return (list.count, Set(list.compactMap(\.user)).count)
    }
}

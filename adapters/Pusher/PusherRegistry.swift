import SwitchboardCore
import Synchronization

/// This node's live Pusher connections, by socket id and by signed-in user, for the HTTP API:
/// `socket_id` exclusion and `terminate_connections`.
public final class PusherRegistry: Sendable {
    struct UserKey: Hashable {
        var app: String
        var user: String
    }

    struct State {
        var bySocket: [String: PusherConnection] = [:]
        var byUser: [UserKey: Set<String>] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty registry.
    public init() {}

    /// Adds a connection that just opened.
    public func add(_ connection: PusherConnection) {
        self.state.withLock { $0.bySocket[connection.socketID] = connection }
    }

    /// Forgets a connection that closed.
    public func remove(_ connection: PusherConnection) {
        let key = connection.userID.map { UserKey(app: connection.app.id, user: $0) }
        self.state.withLock { state in
            state.bySocket[connection.socketID] = nil
            guard let key, var sockets = state.byUser[key] else { return }
            sockets.remove(connection.socketID)
            state.byUser[key] = sockets.isEmpty ? nil : sockets
        }
    }

    /// Records that a connection signed in as `userID`.
    public func signedIn(_ connection: PusherConnection, userID: String) {
        self.state.withLock { state in
            _ = state.byUser[UserKey(app: connection.app.id, user: userID), default: []].insert(connection.socketID)
        }
    }

    /// The open connection with `socketID`.
    public func connection(socketID: String) -> PusherConnection? { self.state.withLock { $0.bySocket[socketID] } }

    /// The open connections of `app` signed in as `userID`.
    public func connections(app: String, userID: String) -> [PusherConnection] {
        self.state.withLock { state in
            (state.byUser[UserKey(app: app, user: userID)] ?? []).compactMap { state.bySocket[$0] }
        }
    }

    /// The number of open connections.
    public var count: Int { self.state.withLock { $0.bySocket.count } }
}

/// Who may subscribe to and publish on a channel, decided by its name: one table every adapter applies.
///
/// Protected prefixes (`private-`, `presence-`, `private-encrypted-`) need each protocol's own proof and are
/// checked by the adapters; this table holds the names no client proof can open, such as a user's
/// `#server-to-user-…` channel, which only that signed-in user's connections may hear and only the server API feeds.
public enum ChannelAccess {
    /// What a client wants to do with a channel.
    public enum Action: Sendable {
        case subscribe, publish
    }

    /// Who may do an action on a reserved namespace.
    public enum Who: Sendable, Equatable {
        /// Only the server API (never a client connection).
        case serverOnly
        /// Only a connection signed in as the user the rest of the channel name names (Pusher `pusher:signin`).
        case signedInUser
    }

    /// A reserved channel namespace: its prefix and who may subscribe and publish.
    public struct Namespace: Sendable {
        /// The channel-name prefix.
        public var prefix: String
        /// Who may subscribe.
        public var subscribe: Who
        /// Who may publish.
        public var publish: Who
    }

    /// The reserved namespaces, most specific first: the first whose prefix matches decides.
    public static let reserved: [Namespace] = [
        Namespace(prefix: "#server-to-user-", subscribe: .signedInUser, publish: .serverOnly),
        // Pusher keeps every `#` name for server-side features; no client opens one.
        Namespace(prefix: "#", subscribe: .serverOnly, publish: .serverOnly),
    ]

    /// The namespace `channel` belongs to, if it is reserved.
    public static func namespace(of channel: String) -> Namespace? {
        self.reserved.first { channel.hasPrefix($0.prefix) }
    }

    /// Why a client may not do `action` on `channel`, or nil when the table allows it (protocol proofs still apply).
    ///
    /// - Parameter signedInUser: the user the connection signed in as, where its protocol has a server-signed
    ///   sign-in (Pusher); nil for every other connection.
    public static func denial(_ action: Action, channel: String, signedInUser: String? = nil) -> String? {
        guard let namespace = self.namespace(of: channel) else { return nil }
        let who = action == .subscribe ? namespace.subscribe : namespace.publish
        switch who {
        case .serverOnly:
            return action == .subscribe
                ? "\(namespace.prefix)… channels are reserved: no client may subscribe"
                : "\(namespace.prefix)… channels are reserved: only the server API publishes"
        case .signedInUser:
            let user = channel.dropFirst(namespace.prefix.count)
            guard let signedInUser, !user.isEmpty, user == signedInUser else {
                return "\(namespace.prefix)… channels are only for the connections of the user they name, once signed in"
            }
            return nil
        }
    }
}

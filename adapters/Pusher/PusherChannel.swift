/// What a channel name means to the Pusher protocol: its prefixes decide authorization, presence,
/// encryption, caching and client events.
public enum PusherChannel {
    /// The prefix of the channel a signed-in user's connections are subscribed to (`send_to_user`).
    public static let serverToUserPrefix = "#server-to-user-"
    /// The prefix of the channel whose presence says a user is online (a signed-in connection holds it), for watchlists.
    public static let onlinePrefix = "#online-"

    /// `presence-…`: members are tracked and announced.
    public static func isPresence(_ name: String) -> Bool { name.hasPrefix("presence-") }

    /// `private-…` (encrypted ones included): subscribing needs a signature.
    public static func isPrivate(_ name: String) -> Bool { name.hasPrefix("private-") }

    /// `private-encrypted-…`: the payloads are sealed by the publisher; the server relays them untouched.
    public static func isEncrypted(_ name: String) -> Bool { name.hasPrefix("private-encrypted-") }

    /// `cache-…`, `private-cache-…`, `private-encrypted-cache-…` and `presence-cache-…`: new subscribers get the last event.
    public static func isCache(_ name: String) -> Bool {
        name.hasPrefix("cache-") || name.hasPrefix("private-cache-") || name.hasPrefix("private-encrypted-cache-")
            || name.hasPrefix("presence-cache-")
    }

    /// A `#` channel: Pusher keeps these for its own features (a user's events, a user's online status), so they are
    /// never listed, counted or announced to webhooks as channels.
    public static func isServerFeature(_ name: String) -> Bool { name.hasPrefix("#") }

    /// The channel whose presence says whether a user is online, for watchlists.
    public static func isOnlineStatus(_ name: String) -> Bool { name.hasPrefix(onlinePrefix) }

    /// Private (not encrypted) and presence channels carry client events.
    public static func allowsClientEvents(_ name: String) -> Bool {
        isPresence(name) || (isPrivate(name) && !isEncrypted(name))
    }
}

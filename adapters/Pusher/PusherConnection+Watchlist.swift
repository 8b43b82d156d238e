import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// Watchlist events: a user is online while one of its connections is signed in, on any node. That state is presence
/// on the user's `#online-…` channel, whose joins and leaves the engine carries to every node; a connection whose
/// signed `user_data` names a `watchlist` subscribes to those channels and hears them as
/// `pusher_internal:watchlist_events` (``PusherEncoder``).
extension PusherConnection {
    /// Watched users past this many are ignored: Pusher's limit, and it bounds what one sign-in subscribes.
    public static let maxWatchlist = 100

    /// Holds the signed-in user's online presence until this connection closes; the first such connection makes the
    /// user's watchers hear `online`, the last one to close `offline`.
    func announceOnline(userID: String) async {
        let channel = PusherChannel.onlinePrefix + userID
        guard ChannelName.isValid(channel) else { return }
        let holder = PresenceHolder.connection(self.session.connectionID)
        do {
            _ = try await self.bus.presenceJoin(app: self.app, channel: channel, userID: userID, metadata: ByteBuffer(string: "null"), holder: holder)
        } catch {
            return
        }
        let kept = self.state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.online = channel
            return true
        }
        // Closed while joining: `closed()` has run and would not leave it.
        if !kept { _ = try? await self.bus.presenceLeave(app: self.app.id, channel: channel, userID: userID, holder: holder) }
    }

    /// Subscribes to the online status of each watched user, then sends one `online` event naming those online now.
    func watch(_ userIDs: [String]) async {
        var online: [String] = []
        var seen = Set<String>()
        for user in userIDs where seen.count < Self.maxWatchlist && seen.insert(user).inserted {
            let channel = PusherChannel.onlinePrefix + user
            guard ChannelName.isValid(channel), (try? await self.bus.subscribe(self.session, app: self.app, channel: channel)) != nil else {
                continue
            }
            let kept = self.state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.watched.insert(channel)
                return true
            }
            guard kept else {
                await self.bus.unsubscribe(self.session.connectionID, app: self.app.id, channel: channel)
                return
            }
            if let members = try? await self.bus.members(app: self.app.id, channel: channel), !members.isEmpty { online.append(user) }
        }
        if !online.isEmpty { self.session.send(PusherReply.watchlistEvent("online", userIDs: online)) }
        // Pusher tells the client, after `signin_success`, that the rest of its list is not watched.
        if Set(userIDs).count > Self.maxWatchlist {
            let message = "a watchlist may name \(Self.maxWatchlist) users; the first \(Self.maxWatchlist) are watched"
            self.session.send(PusherReply.error(.watchlistLimitExceeded, message))
        }
    }
}

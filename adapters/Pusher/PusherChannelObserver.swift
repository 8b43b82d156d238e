import SwitchboardAdapterKit
import SwitchboardCore

/// The Pusher adapter's ears on the bus: it caches the last event of cache channels and tells Pusher
/// subscribers their channel's subscriber count when the app enables `subscription_count`.
struct PusherChannelObserver: ChannelObserver {
    let bus: Bus
    let cache: PusherEventCache

    func published(_ publication: Publication) {
        self.cache.store(publication)
    }

    func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {
        // The connection that caused the change is told after its own subscription_succeeded.
        self.tell(app: app, channel: channel, count: count, except: cause)
    }

    func subscriptionCountChangedElsewhere(app: String, channel: String, count: Int) {
        self.tell(app: app, channel: channel, count: count, except: nil)
    }

    /// Sends `pusher_internal:subscription_count` to the channel's Pusher subscribers here, but `except`.
    private func tell(app: String, channel: String, count: Int, except: ConnectionID?) {
        guard !PusherChannel.isPresence(channel), !PusherChannel.isServerFeature(channel) else { return }
        guard let settings = self.bus.apps.app(id: app), settings.subscriptionCount else { return }
        let frame = PusherReply.subscriptionCount(channel: channel, count: count)
        for subscriber in self.bus.hub.subscribers(app: app, channel: channel) where subscriber.connectionID != except {
            guard subscriber.encoder is PusherEncoder, let session = subscriber as? Session else { continue }
            session.send(frame)
        }
    }
}

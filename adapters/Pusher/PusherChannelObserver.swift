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
        guard !PusherChannel.isPresence(channel), !PusherChannel.isServerFeature(channel) else { return }
        guard let settings = self.bus.apps.app(id: app), settings.subscriptionCount else { return }
        let frame = PusherReply.subscriptionCount(channel: channel, count: count)
        for subscriber in self.bus.hub.subscribers(app: app, channel: channel) where subscriber.connectionID != cause {
            // The connection that caused the change is told after its own subscription_succeeded.
            guard subscriber.encoder is PusherEncoder, let session = subscriber as? Session else { continue }
            session.send(frame)
        }
    }
}

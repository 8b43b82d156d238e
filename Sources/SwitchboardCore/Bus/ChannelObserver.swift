import Synchronization

/// Hears what happens to this node's channels: occupied and vacated, subscriber counts, presence changes and publishes.
///
/// The bus calls observers inline, after the change took effect, so an observer must return at once: queue the
/// work (a webhook, a frame) and never wait. Every method has an empty default; implement only what you need.
///
/// ```swift
/// struct Occupancy: ChannelObserver {
///     func channelOccupied(app: String, channel: String) { print("\(channel) has subscribers") }
/// }
/// bus.observers.register(Occupancy(), name: "occupancy")
/// ```
public protocol ChannelObserver: Sendable {
    /// The channel got its first local subscriber.
    func channelOccupied(app: String, channel: String)
    /// The channel lost its last local subscriber.
    func channelVacated(app: String, channel: String)
    /// A local subscribe or unsubscribe changed the channel's subscribers while it stays occupied here; `count` is the
    /// whole cluster's, other nodes' as of their last report.
    ///
    /// - Parameter cause: the connection whose subscribe or unsubscribe changed the count.
    func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?)
    /// Other nodes' subscribers of a channel occupied here changed (heard about a second late); `count` is the whole
    /// cluster's. Only what tells local subscribers wants it: the node where the change happened reports it to the app.
    func subscriptionCountChangedElsewhere(app: String, channel: String, count: Int)
    /// A member joined, changed or left a channel's presence set (server-side expiries included).
    func presenceChanged(_ change: PresenceChange)
    /// A message was published through this node, with its position when the channel keeps history.
    func published(_ publication: Publication)
    /// A publication was queued on its `subscribers` local subscribers: once per message per node, for metrics.
    func fannedOut(_ publication: Publication, subscribers: Int)
}

extension ChannelObserver {
    public func channelOccupied(app: String, channel: String) {}
    public func channelVacated(app: String, channel: String) {}
    public func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {}
    public func subscriptionCountChangedElsewhere(app: String, channel: String, count: Int) {}
    public func presenceChanged(_ change: PresenceChange) {}
    public func published(_ publication: Publication) {}
    public func fannedOut(_ publication: Publication, subscribers: Int) {}
}

/// The observers registered with a bus, by name: registering a name again replaces the earlier observer.
public final class ChannelObservers: Sendable {
    struct Entries {
        var named: [(name: String, observer: any ChannelObserver)] = []
        /// The observers alone, rebuilt on change so that `notify` copies a reference instead of building an array.
        var observers: [any ChannelObserver] = []

        mutating func rebuild() { self.observers = self.named.map(\.observer) }
    }

    private let entries = Mutex(Entries())
    private let count = Atomic<Int>(0)

    /// Creates an empty registry.
    public init() {}

    /// Adds `observer` under `name`, replacing any observer registered with that name.
    public func register(_ observer: any ChannelObserver, name: String) {
        self.entries.withLock { entries in
            entries.named.removeAll { $0.name == name }
            entries.named.append((name, observer))
            entries.rebuild()
            self.count.store(entries.named.count, ordering: .releasing)
        }
    }

    /// Removes the observer registered under `name`, if any.
    public func unregister(name: String) {
        self.entries.withLock { entries in
            entries.named.removeAll { $0.name == name }
            entries.rebuild()
            self.count.store(entries.named.count, ordering: .releasing)
        }
    }

    /// True when at least one observer is registered (lets the bus skip work nobody hears).
    public var isEmpty: Bool { self.count.load(ordering: .acquiring) == 0 }

    /// Calls `body` for each registered observer, outside the registry's lock.
    public func notify(_ body: (any ChannelObserver) -> Void) {
        guard !self.isEmpty else { return }
        let observers = self.entries.withLock { $0.observers }
        for observer in observers { body(observer) }
    }
}

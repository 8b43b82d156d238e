import Synchronization

/// An observer whose subscriber counts come at most once per `interval` per channel: the first change at once, the
/// changes after it together at the end of the interval, with the count then.
///
/// Every subscribe and unsubscribe changes the count, and a count event goes to every subscriber of the channel (or
/// to a webhook queue): unthrottled, a channel of n subscribers costs n frames per join, n² to fill, and a client that
/// subscribes and unsubscribes in a loop drives that. Everything else reaches the wrapped observer unchanged.
public struct CountThrottledObserver: ChannelObserver {
    let inner: any ChannelObserver
    let interval: Duration
    /// The channel's count when a held change is reported.
    let count: @Sendable (_ app: String, _ channel: String) -> Int
    let state: Throttle

    /// Wraps `inner`; held changes are reported with `count`'s answer at the end of the interval.
    public init(
        _ inner: any ChannelObserver,
        interval: Duration = .seconds(1),
        count: @escaping @Sendable (_ app: String, _ channel: String) -> Int
    ) {
        self.inner = inner
        self.interval = interval
        self.count = count
        self.state = Throttle()
    }

    public func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {
        let key = Throttle.Key(app: app, channel: channel)
        switch self.state.change(key, now: .now, interval: self.interval) {
        case .now:
            self.inner.subscriptionCountChanged(app: app, channel: channel, count: count, cause: cause)
        case .at(let deadline):
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                self.state.sent(key, now: .now)
                let current = self.count(app, channel)
                // Vacated meanwhile: that was told, and there is nobody left to tell.
                guard current > 0 else { return }
                self.inner.subscriptionCountChanged(app: app, channel: channel, count: current, cause: nil)
            }
        case .held:
            break
        }
    }

    /// Other nodes' changes come once per report (a second) at most: passed on as they are.
    public func subscriptionCountChangedElsewhere(app: String, channel: String, count: Int) {
        self.inner.subscriptionCountChangedElsewhere(app: app, channel: channel, count: count)
    }

    public func channelOccupied(app: String, channel: String) { self.inner.channelOccupied(app: app, channel: channel) }
    public func channelVacated(app: String, channel: String) { self.inner.channelVacated(app: app, channel: channel) }
    public func presenceChanged(_ change: PresenceChange) { self.inner.presenceChanged(change) }
    public func published(_ publication: Publication) { self.inner.published(publication) }
    public func fannedOut(_ publication: Publication, subscribers: Int) { self.inner.fannedOut(publication, subscribers: subscribers) }

    /// When each channel last reported and whether a report is held for it.
    final class Throttle: Sendable {
        struct Key: Hashable {
            var app: String
            var channel: String
        }

        struct Entry {
            var lastSent: ContinuousClock.Instant
            var held: Bool
        }

        struct State {
            var entries: [Key: Entry] = [:]
            /// Past this many entries, those whose interval is over are dropped (amortized: the bound then doubles).
            var pruneAt = 1_024
        }

        enum Decision: Equatable {
            case now
            case at(ContinuousClock.Instant)
            case held
        }

        let state = Mutex(State())

        func change(_ key: Key, now: ContinuousClock.Instant, interval: Duration) -> Decision {
            self.state.withLock { state in
                guard let entry = state.entries[key] else {
                    if state.entries.count >= state.pruneAt {
                        state.entries = state.entries.filter { $0.value.held || now - $0.value.lastSent < interval }
                        state.pruneAt = max(1_024, state.entries.count * 2)
                    }
                    state.entries[key] = Entry(lastSent: now, held: false)
                    return .now
                }
                if entry.held { return .held }
                if now - entry.lastSent >= interval {
                    state.entries[key]?.lastSent = now
                    return .now
                }
                state.entries[key]?.held = true
                return .at(entry.lastSent + interval)
            }
        }

        func sent(_ key: Key, now: ContinuousClock.Instant) {
            self.state.withLock { $0.entries[key] = Entry(lastSent: now, held: false) }
        }
    }
}

import SwitchboardCore

/// Hears each publication's fan-out on this node and hands it to the metrics (once per message, not per subscriber).
struct FanOutTimer: ChannelObserver {
    let metrics: EdgeMetrics

    func fannedOut(_ publication: Publication, subscribers: Int) { self.metrics.fannedOut(publication, subscribers: subscribers) }
}

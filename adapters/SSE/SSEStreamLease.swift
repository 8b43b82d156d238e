import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// What an admitted stream holds on the bus, its subscriptions and its place among the app's connections, given back
/// once: when the stream ends, or, if its body never runs (the client left before the response began), when the
/// response is let go. Without the second, 300 requests reset at once left 5 connections and 10 subscriptions for good,
/// and a free plan's 200 connections would fill with them.
final class SSEStreamLease: Sendable {
    let bus: Bus
    let session: Session
    let channels: [String]
    private let ended = Atomic<Bool>(false)

    init(bus: Bus, session: Session, channels: [String]) {
        self.bus = bus
        self.session = session
        self.channels = channels
    }

    /// Ends the session and gives back its subscriptions and connection (again is a no-op).
    func end() async {
        guard !self.ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await Self.giveBack(bus: self.bus, session: self.session, channels: self.channels)
    }

    private static func giveBack(bus: Bus, session: Session, channels: [String]) async {
        session.close(.normal)
        for channel in channels { await bus.unsubscribe(session.connectionID, app: session.app.id, channel: channel) }
        bus.disconnect(app: session.app.id, via: session.encoder.protocolName)
    }

    deinit {
        guard !self.ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let (bus, session, channels) = (self.bus, self.session, self.channels)
        Task { await Self.giveBack(bus: bus, session: session, channels: channels) }
    }
}

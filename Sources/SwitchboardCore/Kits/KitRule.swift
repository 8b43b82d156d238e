/// What a channel rule's `kit` adds: the checks the DomVia product kits (chat, calls, location, delivery) need at the
/// edge, applied to every publish on the channel (client events, JSON-action and JWT publishes, the server APIs).
///
/// ```toml
/// [[apps.channels]]
/// match = "private-call.*"
/// kit = "calls"                     # chat, calls, location or delivery
/// max_signal_bytes = 16384          # calls: the largest signaling payload
/// ice_candidates_per_second = 20    # calls: per connection (burst three times that)
/// ```
public struct KitRule: Sendable, Equatable {
    /// The product kit a channel belongs to.
    public enum Kind: String, Sendable, CaseIterable {
        /// Chat rooms (`@domvia/realtime-chat`): with `encrypted`, message bodies must be E2EE envelopes.
        case chat
        /// Call signaling (`@domvia/realtime-calls`): payload cap and an ICE candidate rate per connection.
        case calls
        /// Live positions (`@domvia/realtime-location`): a rate per publisher, valid coordinates, the last one replayed.
        case location
        /// Delivery timelines (`@domvia/realtime-delivery`): only valid status transitions; the timeline replayed.
        case delivery
    }

    /// The kit.
    public var kind: Kind
    /// Payloads must be end-to-end encrypted envelopes (`encrypted = true`; chat and calls).
    public var encrypted: Bool
    /// The largest payload of one event on a calls channel (`max_signal_bytes`, default 16 KB).
    public var maxSignalBytes: Int
    /// ICE candidates one connection may send per second on calls channels (`ice_candidates_per_second`, default 20).
    public var iceCandidatesPerSecond: Int
    /// Position updates one publisher may send per second on a location channel (`location_updates_per_second`, default 1).
    public var locationUpdatesPerSecond: Int

    /// Creates a rule for `kind` with the defaults of its preset in `conf/kits/`.
    public init(
        kind: Kind,
        encrypted: Bool = false,
        maxSignalBytes: Int = 16_384,
        iceCandidatesPerSecond: Int = 20,
        locationUpdatesPerSecond: Int = 1
    ) {
        self.kind = kind
        self.encrypted = encrypted
        self.maxSignalBytes = maxSignalBytes
        self.iceCandidatesPerSecond = iceCandidatesPerSecond
        self.locationUpdatesPerSecond = locationUpdatesPerSecond
    }

    /// Whether the channel's history keeps `publication`: a delivery channel's timeline is its statuses alone, so other
    /// events cannot push a delivery's status out of the window its transitions are checked against.
    public func keeps(_ publication: Publication) -> Bool {
        self.kind != .delivery || KitGuard.baseName(publication.event) == "delivery.status"
    }

    /// How many kept messages a new subscriber is sent first (protocols without client history, such as Pusher):
    /// the last position of a location channel, the whole kept timeline of a delivery channel.
    public var replayOnSubscribe: Int? {
        switch self.kind {
        case .location: 1
        case .delivery: 100
        case .chat, .calls: nil
        }
    }
}

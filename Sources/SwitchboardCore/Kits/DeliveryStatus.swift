/// The states of a delivery and which may follow which: the table the delivery kit enforces at the edge and
/// `@domvia/realtime-delivery` mirrors in the client (`canTransition`).
public enum DeliveryStatus: String, Sendable, CaseIterable {
    case pickup
    case inTransit = "in_transit"
    case nearby
    case delivered
    case failed
    case supportNeeded = "support_needed"

    /// The states a delivery may start in (its first status).
    public static let initial: Set<DeliveryStatus> = [.pickup, .inTransit, .failed, .supportNeeded]

    /// The states that may follow this one. `delivered` is final except for a support request; a failed delivery may be
    /// picked up again; support can resolve to any state.
    public var next: Set<DeliveryStatus> {
        switch self {
        case .pickup: [.inTransit, .failed, .supportNeeded]
        case .inTransit: [.inTransit, .nearby, .delivered, .failed, .supportNeeded]
        case .nearby: [.nearby, .inTransit, .delivered, .failed, .supportNeeded]
        case .delivered: [.supportNeeded]
        case .failed: [.pickup, .supportNeeded]
        case .supportNeeded: [.supportNeeded, .pickup, .inTransit, .nearby, .delivered, .failed]
        }
    }

    /// Whether `next` may follow `current` (nil: no status yet).
    public static func allows(from current: DeliveryStatus?, to next: DeliveryStatus) -> Bool {
        guard let current else { return Self.initial.contains(next) }
        return current.next.contains(next)
    }
}

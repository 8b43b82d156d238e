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
    /// picked up again; support can resolve to any state (a client's resolution is narrower: see `allowed(after:byServer:)`).
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

    /// Whether `next` may follow `current` in the table (nil: no status yet).
    public static func allows(from current: DeliveryStatus?, to next: DeliveryStatus) -> Bool {
        guard let current else { return Self.initial.contains(next) }
        return current.next.contains(next)
    }

    /// The statuses that may follow `state`. From a support request a client may only ask again, go back to the status
    /// the request interrupted, or go where that one may: a subscriber cannot undo `delivered` in two steps. The app's
    /// server (`byServer`: a publish through a server API) may resolve it to any state.
    public static func allowed(after state: DeliveryState, byServer: Bool) -> Set<DeliveryStatus> {
        guard let current = state.current else { return Self.initial }
        guard current == .supportNeeded, !byServer else { return current.next }
        // Not kept any more (a long run of support requests): only the server may resolve it.
        guard let interrupted = state.interrupted else { return [.supportNeeded] }
        return interrupted.next.union([interrupted, .supportNeeded])
    }
}

/// Where a delivery stands: its newest status and, while that is a support request, the status the request interrupted.
public struct DeliveryState: Sendable, Equatable {
    /// The newest status (nil: none yet).
    public var current: DeliveryStatus?
    /// The newest status that is not `support_needed` (nil: none kept).
    public var interrupted: DeliveryStatus?

    /// A delivery at `current`, whose newest status other than a support request is `interrupted`.
    public init(current: DeliveryStatus? = nil, interrupted: DeliveryStatus? = nil) {
        self.current = current
        self.interrupted = interrupted
    }

    /// The timeline's state from its statuses, oldest first.
    public init(timeline: some Sequence<DeliveryStatus>) {
        self.init()
        for status in timeline { self = self.advanced(to: status) }
    }

    /// The state once `status` is admitted.
    public func advanced(to status: DeliveryStatus) -> DeliveryState {
        DeliveryState(current: status, interrupted: status == .supportNeeded ? self.interrupted : status)
    }
}

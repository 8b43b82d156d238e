/// What one client connection may spend, whatever its protocol (`[limits]` in the config).
///
/// The app's plan caps the app as a whole; these cap each connection, so one client cannot spend the
/// app's whole budget or the process's memory. Each key's default is the value below.
public struct ClientLimits: Sendable, Equatable {
    /// `commands_per_second = 50`: frames a connection may send per second, sustained.
    public var commandsPerSecond: Double = 50
    /// `command_burst = 100`: frames a connection may send at once before the rate applies.
    public var commandBurst: Double = 100
    /// `client_publishes_per_second = 20`: publishes one connection may make per second (burst twice that).
    public var publishesPerSecond: Double = 20
    /// `presence_updates_per_second = 2`: presence updates one connection may make per second (burst 5).
    public var presenceUpdatesPerSecond: Double = 2
    /// `max_presence_metadata_bytes = 1024`: the largest presence metadata (Pusher's `user_info` limit).
    public var maxPresenceMetadataBytes = 1024
    /// `max_refusals = 20`: refused or malformed commands a connection may send (refilled at one per second)
    /// before it is closed with its protocol's code.
    public var maxRefusals: Double = 20
    /// `max_queued_bytes = 8388608`: bytes queued for a connection before it is closed as too slow.
    public var maxQueuedBytes = 8 * 1024 * 1024

    /// The defaults above.
    public init() {}
}

/// One connection's spending against its `ClientLimits`: a token bucket per kind of action.
///
/// A value with no clock: callers pass seconds (monotonic or wall, consistently), so tests drive it directly.
public struct ClientBudget: Sendable {
    /// What a connection spends.
    public enum Spend: Sendable {
        /// Any frame from the client.
        case command
        /// A publish or client event.
        case publish
        /// A presence metadata update.
        case presenceUpdate
        /// A refused or malformed command.
        case refusal
    }

    private var commands: TokenBucket
    private var publishes: TokenBucket
    private var presenceUpdates: TokenBucket
    private var refusals: TokenBucket

    /// A full budget at time `now` (seconds).
    public init(_ limits: ClientLimits, now: Double) {
        self.commands = TokenBucket(capacity: max(1, limits.commandBurst), refillPerSecond: limits.commandsPerSecond, now: now)
        self.publishes = TokenBucket(capacity: max(1, limits.publishesPerSecond * 2), refillPerSecond: limits.publishesPerSecond, now: now)
        self.presenceUpdates = TokenBucket(
            capacity: max(5, limits.presenceUpdatesPerSecond),
            refillPerSecond: limits.presenceUpdatesPerSecond,
            now: now
        )
        self.refusals = TokenBucket(capacity: max(1, limits.maxRefusals), refillPerSecond: 1, now: now)
    }

    /// Takes one `spend` at `now`; false when the connection is over that budget.
    ///
    /// For `.refusal`, false means the connection has been refused too often and should be closed.
    public mutating func take(_ spend: Spend, now: Double) -> Bool {
        switch spend {
        case .command: self.commands.take(now: now)
        case .publish: self.publishes.take(now: now)
        case .presenceUpdate: self.presenceUpdates.take(now: now)
        case .refusal: self.refusals.take(now: now)
        }
    }
}

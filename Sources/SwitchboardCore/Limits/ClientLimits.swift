/// What one client connection may spend, whatever its protocol (`[limits]` in the config).
///
/// The app's plan caps the app as a whole; these cap each connection, so one client cannot spend the
/// app's whole budget or the process's memory. Each key's default is the value below.
public struct ClientLimits: Sendable, Equatable {
    /// `commands_per_second = 50`: frames a connection may send per second, sustained.
    public var commandsPerSecond: Double = 50
    /// `command_burst = 100`: frames a connection may send at once before the rate applies.
    public var commandBurst: Double = 100
    /// `subscribe_burst = 1000`: subscribes a connection may send past the command burst. A client that reconnects
    /// resubscribes every channel at once (pusher-js and pysher do), so these have an allowance of their own, refilled
    /// at `commands_per_second`; unsubscribes and other frames do not share it.
    public var subscribeBurst: Double = 1000
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
    /// `token_expiry_grace_seconds = 2`: how long a JWT connection or subscription outlives its token's `exp` while its
    /// client fetches a new token (Centrifugo's `expired_close_delay`, 25 s there); a slow token endpoint needs more.
    public var tokenExpiryGraceSeconds: Int64 = 2

    /// The defaults above.
    public init() {}
}

/// One connection's spending against its `ClientLimits`: a token bucket per kind of action.
///
/// A value with no clock: callers pass seconds (monotonic or wall, consistently), so tests drive it directly. Made from
/// `LiveLimits`, it follows a reload from the next `take`: its buckets take the new sizes and rates and keep the
/// tokens they hold (up to the new size), so lowering a limit applies to connections already open.
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
        /// A subscribe the command budget refused, taken from the subscribe allowance instead.
        case subscribe
    }

    private var commands: TokenBucket
    private var publishes: TokenBucket
    private var presenceUpdates: TokenBucket
    private var refusals: TokenBucket
    private var subscribes: TokenBucket
    /// Where later limits come from, and the generation of the ones in use (nil: fixed limits).
    private let live: LiveLimits?
    private var generation: UInt64

    /// The largest frame read as a possible subscribe once the command rate is spent: larger ones are refused unread,
    /// so a flood past the rate costs no parsing.
    public static let largestSubscribeFrame = 16 * 1024

    /// A full budget at time `now` (seconds) that keeps `limits`.
    public init(_ limits: ClientLimits, now: Double) {
        self.init(limits, live: nil, generation: 0, now: now)
    }

    /// A full budget at time `now` (seconds) sized by `live`'s client limits, following each later change of them.
    public init(_ live: LiveLimits, now: Double) {
        let (values, generation) = live.snapshot
        self.init(values.client, live: live, generation: generation, now: now)
    }

    private init(_ limits: ClientLimits, live: LiveLimits?, generation: UInt64, now: Double) {
        self.live = live
        self.generation = generation
        self.commands = TokenBucket(capacity: Self.commandCapacity(limits), refillPerSecond: limits.commandsPerSecond, now: now)
        self.publishes = TokenBucket(capacity: Self.publishCapacity(limits), refillPerSecond: limits.publishesPerSecond, now: now)
        self.presenceUpdates = TokenBucket(
            capacity: Self.presenceCapacity(limits),
            refillPerSecond: limits.presenceUpdatesPerSecond,
            now: now
        )
        self.refusals = TokenBucket(capacity: Self.refusalCapacity(limits), refillPerSecond: 1, now: now)
        self.subscribes = TokenBucket(capacity: Self.subscribeCapacity(limits), refillPerSecond: limits.commandsPerSecond, now: now)
    }

    /// Takes `count` of `spend` at `now`, all or none; false when the connection is over that budget.
    ///
    /// For `.refusal`, false means the connection has been refused too often and should be closed.
    public mutating func take(_ spend: Spend, count: Double = 1, now: Double) -> Bool {
        if let live = self.live, live.generation != self.generation { self.follow(live, now: now) }
        switch spend {
        case .command: return self.commands.take(count, now: now)
        case .publish: return self.publishes.take(count, now: now)
        case .presenceUpdate: return self.presenceUpdates.take(count, now: now)
        case .refusal: return self.refusals.take(count, now: now)
        case .subscribe: return self.subscribes.take(count, now: now)
        }
    }

    /// Resizes the buckets to `live`'s current client limits, keeping the tokens they hold. A budget keeps no copy of
    /// its limits to compare with (there is one budget per open connection); an unchanged size keeps its tokens anyway.
    private mutating func follow(_ live: LiveLimits, now: Double) {
        let (values, generation) = live.snapshot
        self.generation = generation
        let limits = values.client
        self.commands = self.commands.retuned(capacity: Self.commandCapacity(limits), refillPerSecond: limits.commandsPerSecond, now: now)
        self.publishes = self.publishes.retuned(capacity: Self.publishCapacity(limits), refillPerSecond: limits.publishesPerSecond, now: now)
        self.presenceUpdates = self.presenceUpdates.retuned(
            capacity: Self.presenceCapacity(limits),
            refillPerSecond: limits.presenceUpdatesPerSecond,
            now: now
        )
        self.refusals = self.refusals.retuned(capacity: Self.refusalCapacity(limits), refillPerSecond: 1, now: now)
        self.subscribes = self.subscribes.retuned(capacity: Self.subscribeCapacity(limits), refillPerSecond: limits.commandsPerSecond, now: now)
    }

    private static func commandCapacity(_ limits: ClientLimits) -> Double { max(1, limits.commandBurst) }
    private static func publishCapacity(_ limits: ClientLimits) -> Double { max(1, limits.publishesPerSecond * 2) }
    private static func presenceCapacity(_ limits: ClientLimits) -> Double { max(5, limits.presenceUpdatesPerSecond) }
    private static func refusalCapacity(_ limits: ClientLimits) -> Double { max(1, limits.maxRefusals) }
    private static func subscribeCapacity(_ limits: ClientLimits) -> Double { max(0, limits.subscribeBurst) }
}

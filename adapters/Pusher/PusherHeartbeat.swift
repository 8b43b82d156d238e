/// The server side of Pusher's keepalive as a clock-free state machine (times in milliseconds).
///
/// After `activityTimeout` with nothing from the client the server sends `pusher:ping`; if nothing comes
/// back within `pongTimeout` it closes with 4201. A connection subscribed to nothing that has sent nothing
/// but pings and pongs for `idleLimit` is closed with 4202.
public struct PusherHeartbeat: Sendable {
    /// What the connection should do now.
    public enum Action: Sendable, Equatable {
        /// Nothing until this time.
        case wait(until: Int64)
        /// Send `pusher:ping`, then wait until this time.
        case ping(thenWaitUntil: Int64)
        /// Close with this code.
        case close(PusherErrorCode)
    }

    /// Client silence, in milliseconds, before the server pings.
    public let activityTimeout: Int64
    /// How long the server waits for a reply to its ping.
    public let pongTimeout: Int64
    /// How long a connection with no subscriptions may do nothing but keep alive.
    public let idleLimit: Int64
    private var lastHeard: Int64
    private var lastUseful: Int64
    private var pingSentAt: Int64?

    /// Starts the clock at `now`.
    public init(activityTimeout: Int64, pongTimeout: Int64 = 30_000, idleLimit: Int64 = 86_400_000, now: Int64) {
        self.activityTimeout = max(1, activityTimeout)
        self.pongTimeout = max(1, pongTimeout)
        self.idleLimit = idleLimit
        self.lastHeard = now
        self.lastUseful = now
        self.pingSentAt = nil
    }

    /// The client sent a frame; `useful` is false for pings and pongs.
    public mutating func heard(at now: Int64, useful: Bool) {
        self.lastHeard = max(self.lastHeard, now)
        self.pingSentAt = nil
        if useful { self.lastUseful = max(self.lastUseful, now) }
    }

    /// What to do at `now`; `subscribed` tells whether the connection holds any subscription.
    public mutating func poll(now: Int64, subscribed: Bool) -> Action {
        if !subscribed, now - self.lastUseful >= self.idleLimit { return .close(.closedAfterInactivity) }
        if let pingSentAt = self.pingSentAt {
            let deadline = pingSentAt + self.pongTimeout
            return now >= deadline ? .close(.pongNotReceived) : .wait(until: deadline)
        }
        let due = self.lastHeard + self.activityTimeout
        guard now >= due else { return .wait(until: subscribed ? due : min(due, self.lastUseful + self.idleLimit)) }
        self.pingSentAt = now
        return .ping(thenWaitUntil: now + self.pongTimeout)
    }
}

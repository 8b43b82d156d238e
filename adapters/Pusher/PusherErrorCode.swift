/// A `pusher:error` code and the close code of the same number: its range tells the client what to do.
///
/// 4000–4099: do not reconnect unchanged · 4100–4199: reconnect after backing off · 4200–4299: reconnect
/// at once · 4300–4399: any other error, the connection stays open.
public struct PusherErrorCode: Sendable, Hashable, CustomStringConvertible {
    /// The number sent in `data.code` and as the WebSocket close code.
    public let code: Int
    /// The documented explanation, used when no better message is at hand.
    public let message: String

    private init(_ code: Int, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code) \(self.message)" }

    /// True for codes that end the connection when sent without a channel (4000–4299).
    public var closesConnection: Bool { self.code < 4300 }

    /// 4001: the key in the path names no app.
    public static let appDoesNotExist = PusherErrorCode(4001, "App does not exist")
    /// 4003: the app is disabled.
    public static let appDisabled = PusherErrorCode(4003, "App disabled")
    /// 4004: the app has as many connections as its plan allows.
    public static let overConnectionQuota = PusherErrorCode(4004, "App is over connection quota")
    /// 4006: `protocol` is not a number.
    public static let invalidVersion = PusherErrorCode(4006, "Invalid version string format")
    /// 4007: a protocol this server does not speak (it speaks 5 to 7).
    public static let unsupportedProtocol = PusherErrorCode(4007, "Unsupported protocol version")
    /// 4008: the connection named no `protocol`.
    public static let noProtocol = PusherErrorCode(4008, "No protocol version supplied")
    /// 4009: a bad signature, or the server ended the user's connections.
    public static let unauthorized = PusherErrorCode(4009, "Connection is unauthorized")
    /// 4100: over a capacity limit (channels, presence members, a client too slow to keep up).
    public static let overCapacity = PusherErrorCode(4100, "Over capacity")
    /// 4200: the server is restarting; reconnect now.
    public static let reconnect = PusherErrorCode(4200, "Generic reconnect immediately")
    /// 4201: the server pinged and no pong came back in time.
    public static let pongNotReceived = PusherErrorCode(4201, "Pong reply not received")
    /// 4202: the connection sat idle, subscribed to nothing, for too long.
    public static let closedAfterInactivity = PusherErrorCode(4202, "Closed after inactivity")
    /// 4300: a message the server could not accept (malformed, unknown, too large, or repeated); nothing changed.
    public static let invalidMessage = PusherErrorCode(4300, "Invalid message")
    /// 4301: more client events than the connection's rate allows.
    public static let clientEventRateLimit = PusherErrorCode(4301, "Client event rejected due to rate limit")
    /// 4302: a sign-in's watchlist names more users than are watched; the sign-in stands, the first ones are watched.
    public static let watchlistLimitExceeded = PusherErrorCode(4302, "Watchlist limit exceeded")
}

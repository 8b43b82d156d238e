/// Why the server ends a JWT-protocol connection: a WebSocket close code and reason from Centrifugo's table.
///
/// Codes 3000–3499 tell the client to reconnect; 3500–3999 tell it not to.
public struct JWTDisconnect: Sendable, Hashable, CustomStringConvertible {
    /// The close code.
    public let code: UInt16
    /// The close reason.
    public let reason: String

    public var description: String { "\(self.code) \(self.reason)" }

    /// Whether the client should reconnect.
    public var reconnect: Bool { self.code < 3500 }

    public static let connectionClosed = JWTDisconnect(code: 3000, reason: "connection closed")
    public static let shutdown = JWTDisconnect(code: 3001, reason: "shutdown")
    public static let serverError = JWTDisconnect(code: 3004, reason: "internal server error")
    public static let expired = JWTDisconnect(code: 3005, reason: "connection expired")
    public static let subscriptionExpired = JWTDisconnect(code: 3006, reason: "subscription expired")
    public static let slow = JWTDisconnect(code: 3008, reason: "slow")
    public static let forceReconnect = JWTDisconnect(code: 3011, reason: "force reconnect")
    public static let noPong = JWTDisconnect(code: 3012, reason: "no pong")
    public static let tooManyRequests = JWTDisconnect(code: 3013, reason: "too many requests")
    public static let invalidToken = JWTDisconnect(code: 3500, reason: "invalid token")
    public static let badRequest = JWTDisconnect(code: 3501, reason: "bad request")
    public static let stale = JWTDisconnect(code: 3502, reason: "stale")
    public static let forceNoReconnect = JWTDisconnect(code: 3503, reason: "force disconnect")
    public static let connectionLimit = JWTDisconnect(code: 3504, reason: "connection limit")
    public static let channelLimit = JWTDisconnect(code: 3505, reason: "channel limit")
    public static let permissionDenied = JWTDisconnect(code: 3507, reason: "permission denied")
    /// No app has the connection's key: Centrifugo's "bad request", which clients do not retry.
    public static let unknownApp = JWTDisconnect(code: 3501, reason: "unknown app key")
    /// The connection's app is disabled: a forced disconnect, which clients do not retry.
    public static let appDisabled = JWTDisconnect(code: 3503, reason: "app disabled")

    /// A disconnect with a custom code and reason (server API `disconnect`).
    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }
}

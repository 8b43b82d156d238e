/// An error a JWT-protocol (Centrifugo v2) client gets in a command reply: `{"id":N,"error":{"code":…,"message":…}}`.
///
/// The values are Centrifugo's documented client error codes; the same codes answer the server API.
public struct JWTErrorCode: Sendable, Hashable, CustomStringConvertible {
    /// The wire code.
    public let code: Int
    /// The documented message.
    public let message: String
    /// Whether the client may retry the same command later.
    public let temporary: Bool

    public var description: String { "\(self.code) \(self.message)" }

    public static let `internal` = JWTErrorCode(code: 100, message: "internal server error", temporary: true)
    public static let unauthorized = JWTErrorCode(code: 101, message: "unauthorized", temporary: false)
    public static let unknownChannel = JWTErrorCode(code: 102, message: "unknown channel", temporary: false)
    public static let permissionDenied = JWTErrorCode(code: 103, message: "permission denied", temporary: false)
    public static let methodNotFound = JWTErrorCode(code: 104, message: "method not found", temporary: false)
    public static let alreadySubscribed = JWTErrorCode(code: 105, message: "already subscribed", temporary: false)
    public static let limitExceeded = JWTErrorCode(code: 106, message: "limit exceeded", temporary: false)
    public static let badRequest = JWTErrorCode(code: 107, message: "bad request", temporary: false)
    public static let notAvailable = JWTErrorCode(code: 108, message: "not available", temporary: false)
    public static let tokenExpired = JWTErrorCode(code: 109, message: "token expired", temporary: false)
    public static let expired = JWTErrorCode(code: 110, message: "expired", temporary: false)
    public static let tooManyRequests = JWTErrorCode(code: 111, message: "too many requests", temporary: true)
    public static let unrecoverablePosition = JWTErrorCode(code: 112, message: "unrecoverable position", temporary: false)
}

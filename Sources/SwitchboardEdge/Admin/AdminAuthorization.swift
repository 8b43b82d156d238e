import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// The admin API's bearer-token check, shared by every admin and console route.
///
/// Only wrong tokens count toward a lockout: a request with no token (a console page loading before sign-in, or an
/// unset variable sent as `Bearer null`) gets 401 and counts for nothing. Wrong tokens are counted per client address
/// (resolved through `[server] trusted_proxies`); past `[admin] auth_failures_per_minute` (default 10) that address's
/// wrong tokens get 429 `rate_limited` for a minute.
///
/// A locked address still accepts the right token, compared in constant time like every token. Behind a load
/// balancer (or a NAT) every client can share one address, and a lockout that refused the right token would let any
/// of them lock every operator out. What stops guessing is the token itself: off loopback the edge refuses to start
/// with a token shorter than 24 characters or a sample one (`AdminTokenPolicy`), which no request rate can guess;
/// the lockout only makes a guesser loud (429 and security events) and cheap to spot. Every refusal is a security event.
///
/// The token is read from `admin` at each request, so a SIGHUP that rotates it refuses the old one from the next request.
struct AdminAuthorization: Sendable {
    /// `[admin]` in force; its token (nil or empty refuses every admin request) is read per request.
    let admin: LiveSetting<SwitchboardConfig.Admin>
    let gate: Gate
    let failures: AdminFailureLimiter

    /// Creates the check; `auth_failures_per_minute` as it is now is the allowance of wrong tokens per address.
    init(admin: LiveSetting<SwitchboardConfig.Admin>, gate: Gate) {
        self.admin = admin
        self.gate = gate
        self.failures = AdminFailureLimiter(perMinute: admin.current.authFailuresPerMinute)
    }

    /// The admin token in force; nil when none is set (or it is empty).
    var token: String? { self.admin.current.token.flatMap { $0.isEmpty ? nil : $0 } }

    /// What a request presented.
    enum Presented: Equatable {
        /// No token: no `Authorization`, another scheme, or an empty, `null` or `undefined` bearer.
        case none
        /// The admin token.
        case right
        /// Any other token: a guess.
        case wrong
    }

    /// Runs `body` when the request carries the admin token; otherwise answers 401 (or 429) and records a security event.
    /// An `AdminError` thrown by `body` becomes its JSON error response.
    func callAsFunction(_ request: Request, _ context: SwitchboardContext, _ body: () async throws -> Response) async throws -> Response {
        switch self.check(request) {
        case .right:
            do {
                return try await body()
            } catch let error as AdminError {
                return error.response
            }
        case .none:
            let caller = Caller(request: request, context: context)
            self.gate.report(.badSignature, app: nil, caller: caller, detail: "admin API without a token", blameless: true)
            return Self.unauthorized
        case .wrong:
            let caller = Caller(request: request, context: context)
            let address = caller.ip ?? "unknown"
            guard !self.failures.isLocked(address) else {
                self.gate.report(.rateLimited, app: nil, caller: caller, detail: "admin API: too many wrong tokens from this address")
                return JSONResponse.error(
                    .tooManyRequests,
                    code: "rate_limited",
                    message: "too many wrong admin tokens from this address; try again in a minute",
                    headers: [.retryAfter: "60"]
                )
            }
            self.failures.recordFailure(address)
            self.gate.report(.badSignature, app: nil, caller: caller, detail: "admin API without a valid token")
            return Self.unauthorized
        }
    }

    static var unauthorized: Response {
        JSONResponse.error(.unauthorized, code: "unauthorized", message: "the admin API needs Authorization: Bearer <admin token>")
    }

    /// Whether the request's `Authorization: Bearer` header holds the admin token, none, or another one.
    func check(_ request: Request) -> Presented {
        Self.check(authorization: request.headers[.authorization], token: self.token)
    }

    /// `check(_:)` on the header's value; the token is always compared in constant time.
    static func check(authorization: String?, token: String?) -> Presented {
        guard let authorization, authorization.prefix(7).lowercased() == "bearer " else { return .none }
        let presented = authorization.dropFirst(7)
        if let token, ConstantTime.equal(presented, token) { return .right }
        return ["", "null", "undefined"].contains(presented) ? .none : .wrong
    }
}

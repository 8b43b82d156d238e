import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// The admin API's bearer-token check, shared by every admin and console route.
///
/// Wrong or missing tokens are counted per client IP (`[admin] auth_failures_per_minute`, default 10); an IP past
/// that gets 429 `rate_limited`, even with the right token, for a minute. Every refusal is a security event.
struct AdminAuthorization: Sendable {
    /// The configured admin token; nil refuses every admin request.
    let token: String?
    let gate: Gate
    let failures: AdminFailureLimiter

    /// Creates the check; `failuresPerMinute` wrong tokens per IP are allowed before the lockout.
    init(token: String?, gate: Gate, failuresPerMinute: Int = 10) {
        self.token = token
        self.gate = gate
        self.failures = AdminFailureLimiter(perMinute: failuresPerMinute)
    }

    /// Runs `body` when the request carries the admin token; otherwise answers 401 (or 429) and records a security event.
    /// An `AdminError` thrown by `body` becomes its JSON error response.
    func callAsFunction(_ request: Request, _ context: SwitchboardContext, _ body: () async throws -> Response) async throws -> Response {
        let caller = Caller(request: request, context: context)
        let ip = caller.ip ?? "unknown"
        if self.failures.isLocked(ip) {
            self.gate.report(.rateLimited, app: nil, caller: caller, detail: "admin API: too many wrong tokens from this address")
            return JSONResponse.error(
                .tooManyRequests,
                code: "rate_limited",
                message: "too many wrong admin tokens from this address; try again in a minute",
                headers: [.retryAfter: "60"]
            )
        }
        guard self.permits(request) else {
            self.failures.recordFailure(ip)
            self.gate.report(.badSignature, app: nil, caller: caller, detail: "admin API without a valid token")
            return JSONResponse.error(.unauthorized, code: "unauthorized", message: "the admin API needs Authorization: Bearer <admin token>")
        }
        do {
            return try await body()
        } catch let error as AdminError {
            return error.response
        }
    }

    /// Whether the request's `Authorization: Bearer` header matches the admin token.
    func permits(_ request: Request) -> Bool {
        let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let expected = self.token, let presented else { return false }
        return ConstantTime.equal(presented, expected)
    }
}

import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// The admin API's bearer-token check, shared by every admin and console route.
struct AdminAuthorization: Sendable {
    /// The configured admin token; nil refuses every admin request.
    let token: String?
    let gate: Gate

    /// Runs `body` when the request carries the admin token; otherwise answers 401 and records a security event.
    func callAsFunction(_ request: Request, _ context: SwitchboardContext, _ body: () async throws -> Response) async throws -> Response {
        guard self.permits(request) else {
            self.gate.report(.badSignature, app: nil, caller: Caller(request: request, context: context), detail: "admin API without a valid token")
            return JSONResponse.error(.unauthorized, code: "unauthorized", message: "the admin API needs Authorization: Bearer <admin token>")
        }
        return try await body()
    }

    /// Whether the request's `Authorization: Bearer` header matches the admin token.
    func permits(_ request: Request) -> Bool {
        let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let expected = self.token, let presented else { return false }
        return Self.constantTimeEqual(presented, expected)
    }

    /// Compares without an early exit, so response time does not reveal how much of the token matched.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return difference == 0
    }
}

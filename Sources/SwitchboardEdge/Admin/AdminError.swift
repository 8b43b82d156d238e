import Hummingbird
import SwitchboardAdapterKit

/// A refused admin request: its HTTP status and `{"error": {"code", "message"}}` body.
struct AdminError: Error {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    /// 400 `bad_request`: the body or a field is not what the API takes.
    static func badRequest(_ message: String) -> AdminError { AdminError(status: .badRequest, code: "bad_request", message: message) }
    /// 404 `not_found`.
    static func notFound(_ message: String) -> AdminError { AdminError(status: .notFound, code: "not_found", message: message) }
    /// 409 `conflict`: the change contradicts what exists (a taken id, the last active key).
    static func conflict(_ message: String) -> AdminError { AdminError(status: .conflict, code: "conflict", message: message) }

    var response: Response { JSONResponse.error(self.status, code: self.code, message: self.message) }
}

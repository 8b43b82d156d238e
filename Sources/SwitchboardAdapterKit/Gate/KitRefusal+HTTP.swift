public import HTTPTypes
public import SwitchboardCore

extension KitRefusal {
    /// The HTTP status of a kit refusal: 413, 429, 409 for a transition, 403 for plaintext or another user's id, 400 for
    /// a bad payload.
    public var httpStatus: HTTPResponse.Status {
        switch self.reason {
        case .payloadTooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .invalidTransition: .conflict
        case .plaintextRefused, .identityMismatch: .forbidden
        case .invalidPayload: .badRequest
        }
    }

    /// The `error.code` of JSON errors (JSON-action frames, the REST APIs): the shared codes for size, rate and another
    /// user's id (`forbidden`), the kit's own reason (`invalid_transition`, `plaintext_refused`, `invalid_payload`) for the rest.
    public var errorCode: String {
        switch self.reason {
        case .payloadTooLarge: "message_too_large"
        case .rateLimited: "rate_limited"
        case .identityMismatch: "forbidden"
        case .invalidTransition, .plaintextRefused, .invalidPayload: self.reason.rawValue
        }
    }
}

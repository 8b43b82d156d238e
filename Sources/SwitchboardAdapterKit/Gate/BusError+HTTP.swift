public import HTTPTypes
public import SwitchboardCore

extension BusError {
    /// The HTTP status a REST API answers this refusal with, the same for every JSON API of the edge.
    public var httpStatus: HTTPResponse.Status {
        switch self {
        case .messageTooLarge, .metadataTooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .invalidChannel, .invalidEventName: .badRequest
        case .presenceNotAllowed, .channelLimit, .connectionLimit, .presenceFull, .monthlyQuota: .forbidden
        case .kitRefused(let refusal): refusal.httpStatus
        }
    }

    /// The `error.code` of a JSON error body (`message_too_large`, `rate_limited`, …), as JSON-action names them.
    public var errorCode: String {
        switch self {
        case .messageTooLarge, .metadataTooLarge: "message_too_large"
        case .rateLimited: "rate_limited"
        case .monthlyQuota: "over_quota"
        case .invalidChannel, .invalidEventName: "bad_request"
        case .presenceNotAllowed: "forbidden"
        case .channelLimit, .connectionLimit, .presenceFull: "channel_limit"
        case .kitRefused(let refusal): refusal.errorCode
        }
    }
}

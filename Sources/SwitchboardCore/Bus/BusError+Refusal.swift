extension BusError {
    /// The security event kind a refusal is recorded as, the same for every protocol.
    public var securityKind: SecurityEvent.Kind {
        switch self {
        case .channelLimit, .connectionLimit, .presenceFull: .overQuota
        case .messageTooLarge, .metadataTooLarge: .messageTooLarge
        case .rateLimited: .rateLimited
        case .monthlyQuota: .overQuota
        case .invalidChannel, .invalidEventName: .badRequest
        case .presenceNotAllowed: .forbidden
        case .kitRefused(let refusal): refusal.securityKind
        }
    }

    /// A short explanation for the client, the same in every protocol.
    public var message: String {
        switch self {
        case .channelLimit(let limit): "the app's plan allows \(limit) channels"
        case .connectionLimit(let limit): "the app's plan allows \(limit) connections"
        case .messageTooLarge(let limit): "messages are limited to \(limit) bytes"
        case .rateLimited: "the app's publish rate is exhausted"
        case .monthlyQuota(let limit): "the app's plan allows \(limit) messages a month; this month's are used up"
        case .invalidChannel: "invalid channel name"
        case .invalidEventName: EventName.rule
        case .presenceNotAllowed: "presence is not enabled on this channel"
        case .presenceFull(let limit): "the presence channel already has \(limit) members"
        case .metadataTooLarge(let limit): "presence metadata is limited to \(limit) bytes"
        case .kitRefused(let refusal): refusal.message
        }
    }
}

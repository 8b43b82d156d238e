/// Why a kit rule refused a message, with a message that tells the publisher what to change.
public struct KitRefusal: Error, Sendable, Equatable {
    /// The kind of refusal; its raw value is the `reason` clients may branch on.
    public enum Reason: String, Sendable {
        /// A signaling payload over the calls kit's `max_signal_bytes`.
        case payloadTooLarge = "payload_too_large"
        /// Over a kit rate: ICE candidates per connection, position updates per publisher.
        case rateLimited = "rate_limited"
        /// A delivery status that cannot follow the current one (`delivered` → `in_transit`).
        case invalidTransition = "invalid_transition"
        /// Plaintext where the channel demands an end-to-end encrypted envelope.
        case plaintextRefused = "plaintext_refused"
        /// A payload the kit cannot read (not a JSON object, an unknown status, coordinates out of range).
        case invalidPayload = "invalid_payload"
        /// A chat or calls payload whose `user_id` is not the user the publisher is signed in as.
        case identityMismatch = "identity_mismatch"
    }

    /// The kind of refusal.
    public var reason: Reason
    /// A short explanation for the publisher (never the payload itself).
    public var message: String

    /// Creates a refusal.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}

extension KitRefusal {
    /// The security event a refusal is recorded as.
    public var securityKind: SecurityEvent.Kind {
        switch self.reason {
        case .payloadTooLarge: .messageTooLarge
        case .rateLimited: .rateLimited
        case .plaintextRefused, .identityMismatch: .forbidden
        case .invalidTransition, .invalidPayload: .badRequest
        }
    }
}

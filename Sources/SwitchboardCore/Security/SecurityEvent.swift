/// A refusal worth an operator's attention: who was refused, why, and from where.
public struct SecurityEvent: Sendable, Equatable {
    /// The kind of refusal, a documented value that will grow.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        /// The wire name, as the admin API shows it.
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { self.name }

        public static let originBlocked = Kind("origin_blocked")
        public static let unknownKey = Kind("unknown_key")
        public static let appDisabled = Kind("app_disabled")
        public static let badSignature = Kind("bad_signature")
        public static let tokenInvalid = Kind("token_invalid")
        public static let tokenExpired = Kind("token_expired")
        public static let rateLimited = Kind("rate_limited")
        public static let overQuota = Kind("over_quota")
        public static let messageTooLarge = Kind("message_too_large")
        public static let badRequest = Kind("bad_request")
        public static let forbidden = Kind("forbidden")
        /// A connection or request from an address in `[server] blocked_addresses`.
        public static let addressBlocked = Kind("address_blocked")

        /// Every kind, for validating filters.
        public static let all: [Kind] = [
            .originBlocked, .unknownKey, .appDisabled, .badSignature, .tokenInvalid, .tokenExpired, .rateLimited, .overQuota,
            .messageTooLarge, .badRequest, .forbidden, .addressBlocked,
        ]

        /// The refusals a client brings on itself, which `[limits] auto_block_kinds` counts by default: all but an app
        /// that is disabled or over its quota, and an address already blocked.
        public static let clientCaused: Set<Kind> = Set(Kind.all).subtracting([.appDisabled, .overQuota, .addressBlocked])

        /// The kind named `name`, if it is one.
        public init?(name: String) {
            guard let kind = Kind.all.first(where: { $0.name == name }) else { return nil }
            self = kind
        }
    }

    /// Milliseconds since the Unix epoch.
    public var time: Int64
    /// The app concerned, when known (bounded like every field a client controls: see ``SecurityEventText``).
    public var app: String? { didSet { self.app = SecurityEventText.bound(self.app) } }
    /// Why the request was refused.
    public var kind: Kind
    /// The client's address.
    public var clientIP: String? { didSet { self.clientIP = SecurityEventText.bound(self.clientIP) } }
    /// The request's `Origin` header.
    public var origin: String? { didSet { self.origin = SecurityEventText.bound(self.origin) } }
    /// The request's `User-Agent` header.
    public var userAgent: String? { didSet { self.userAgent = SecurityEventText.bound(self.userAgent) } }
    /// A short human-readable explanation (never a secret).
    public var detail: String { didSet { self.detail = SecurityEventText.bound(self.detail) } }
    /// The client connection that caused the event, when there is one; it is charged to that connection's budget
    /// (`BudgetedSecuritySink`) and not stored.
    public var connection: ConnectionID?
    /// A refusal that says nothing against the client: a request that guessed nothing (an admin request with no token),
    /// or what a well-behaved app does under load (a Pusher client event over its rate, dropped as Pusher drops it).
    /// It is recorded like any other, but never counts toward an automatic block (`[limits] auto_block_refusals`).
    public var blameless: Bool

    /// Creates an event; every text field is bounded to ``SecurityEventText/maxBytes`` here, so no sink has to.
    public init(
        time: Int64,
        app: String?,
        kind: Kind,
        clientIP: String? = nil,
        origin: String? = nil,
        userAgent: String? = nil,
        detail: String,
        connection: ConnectionID? = nil,
        blameless: Bool = false
    ) {
        self.time = time
        self.app = SecurityEventText.bound(app)
        self.kind = kind
        self.clientIP = SecurityEventText.bound(clientIP)
        self.origin = SecurityEventText.bound(origin)
        self.userAgent = SecurityEventText.bound(userAgent)
        self.detail = SecurityEventText.bound(detail)
        self.connection = connection
        self.blameless = blameless
    }
}

/// Where security events go. Recording never blocks the caller.
public protocol SecurityEventSink: Sendable {
    /// Records `event`.
    func record(_ event: SecurityEvent)
}

/// A filter for listing security events.
public struct SecurityEventQuery: Sendable {
    /// Only this app's events.
    public var app: String?
    /// Only events of this kind.
    public var kind: SecurityEvent.Kind?
    /// Only events at or after this time (milliseconds).
    public var since: Int64?
    /// At most this many, newest first.
    public var limit: Int

    /// Creates a query.
    public init(app: String? = nil, kind: SecurityEvent.Kind? = nil, since: Int64? = nil, limit: Int = 100) {
        self.app = app
        self.kind = kind
        self.since = since
        self.limit = limit
    }

    /// True when `event` passes the filter.
    public func matches(_ event: SecurityEvent) -> Bool {
        (self.app == nil || event.app == self.app) && (self.kind == nil || event.kind == self.kind)
            && (self.since == nil || event.time >= self.since!)
    }
}

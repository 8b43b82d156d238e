public import HTTPTypes
public import Hummingbird

/// Who is calling, as far as a request tells: address, origin and user agent, for checks and security events.
public struct Caller: Sendable {
    /// The client's IP address: the TCP peer's, or the one a trusted proxy forwarded (`TrustedProxies`).
    public var ip: String?
    /// The TCP peer's address when it is not `ip`: the trusted proxy's that forwarded the request.
    public var proxy: String?
    /// The `Origin` header, sent by browsers.
    public var origin: String?
    /// The `User-Agent` header.
    public var userAgent: String?
    /// The `Host` header (or `:authority`).
    public var host: String?

    /// Reads the caller from a request and its context; `X-Forwarded-For`/`Forwarded` count only from a trusted peer.
    public init(request: Request, context: SwitchboardContext) {
        self.ip = context.trustedProxies.client(peer: context.remoteAddress, headers: request.headers)
        if !context.trustedProxies.isEmpty, let peer = context.remoteAddress?.ipAddress, peer != self.ip { self.proxy = peer }
        self.origin = request.headers[.origin]
        self.userAgent = request.headers[.userAgent]
        self.host = request.head.authority
    }

    /// A caller with the given fields (tests, internal calls).
    public init(ip: String? = nil, proxy: String? = nil, origin: String? = nil, userAgent: String? = nil, host: String? = nil) {
        self.ip = ip
        self.proxy = proxy
        self.origin = origin
        self.userAgent = userAgent
        self.host = host
    }
}

extension HTTPField.Name {
    /// `Origin`.
    public static let origin = HTTPField.Name("Origin")!
    /// `Last-Event-ID`, sent by EventSource when it reconnects.
    public static let lastEventID = HTTPField.Name("Last-Event-ID")!
    /// `X-Accel-Buffering`, which tells nginx not to buffer a stream.
    public static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
}

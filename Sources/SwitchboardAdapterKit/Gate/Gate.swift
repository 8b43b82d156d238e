public import Hummingbird
public import SwitchboardCore

/// The edge's door: finds the app a request is for and checks that it may come in.
///
/// App resolution order: a key in the path, a `key` query parameter, the `Host` header, then the
/// default app. Refusals carry the HTTP status and the security event kind; `report` records them.
public struct Gate: Sendable {
    /// Why a request was refused.
    public struct Refusal: Error, Sendable {
        /// The HTTP status for refusals answered over HTTP.
        public var status: HTTPResponse.Status
        /// The security event kind.
        public var kind: SecurityEvent.Kind
        /// The app concerned, when known.
        public var app: String?
        /// A short explanation for the client.
        public var message: String
    }

    /// The apps served.
    public let apps: AppRegistry
    /// Where security events go.
    public let security: any SecurityEventSink
    /// New connections per client IP (`[limits] new_connections_per_ip_per_second`).
    public let newConnections: ConnectionRateLimiter

    /// Creates a gate; `newConnectionsPerSecond` per client IP (0 = unlimited).
    public init(apps: AppRegistry, security: any SecurityEventSink, newConnectionsPerSecond: Int = 50) {
        self.apps = apps
        self.security = security
        self.newConnections = ConnectionRateLimiter(perSecond: newConnectionsPerSecond)
    }

    /// Creates a gate whose limit of new connections per client IP follows `limits` (swapped by a SIGHUP reload).
    public init(apps: AppRegistry, security: any SecurityEventSink, limits: LiveLimits) {
        self.apps = apps
        self.security = security
        self.newConnections = ConnectionRateLimiter(live: limits)
    }

    /// Takes one new connection (WebSocket or SSE) from the caller's address; a 429 `rate_limited` refusal when the
    /// address opens them faster than `[limits] new_connections_per_ip_per_second`. The caller reports it.
    public func throttle(_ caller: Caller) -> Refusal? {
        guard let ip = caller.ip, !self.newConnections.allow(ip) else { return nil }
        return Refusal(
            status: .tooManyRequests,
            kind: .rateLimited,
            app: nil,
            message: "too many new connections from \(ip): at most \(self.newConnections.perSecond) per second"
        )
    }

    /// Finds the app for a request and checks that it is enabled and its origin allowed.
    /// With `tenantQuery` (Maravilla's `/_rt/ws`), `?tenant=` names the app by key or id when there is no `?key=`.
    public func admit(request: Request, caller: Caller, pathKey: String? = nil, tenantQuery: Bool = false) -> Result<App, Refusal> {
        let tenant = tenantQuery ? request.uri.queryParameters["tenant"].map(String.init) : nil
        let queryKey = request.uri.queryParameters["key"].map(String.init) ?? tenant
        let app: App?
        if let key = pathKey ?? queryKey {
            app = self.apps.app(key: key) ?? (key == tenant ? self.apps.app(id: key) : nil)
            guard app != nil else {
                return .failure(Refusal(status: .notFound, kind: .unknownKey, app: nil, message: "no app with key \(key)"))
            }
        } else {
            app = caller.host.flatMap { self.apps.app(host: $0) } ?? self.apps.defaultApp
        }
        guard let app else { return .failure(Refusal(status: .notFound, kind: .unknownKey, app: nil, message: "no app named by the request")) }
        return self.check(app, caller: caller)
    }

    /// Checks that `app` is enabled and allows the caller's origin.
    public func check(_ app: App, caller: Caller) -> Result<App, Refusal> {
        guard app.enabled else {
            return .failure(Refusal(status: .forbidden, kind: .appDisabled, app: app.id, message: "app \(app.id) is disabled"))
        }
        if let origin = caller.origin, !OriginPolicy.allows(origin, patterns: app.origins) {
            return .failure(Refusal(status: .forbidden, kind: .originBlocked, app: app.id, message: "origin \(origin) is not allowed"))
        }
        return .success(app)
    }

    /// Finds the app whose secret is `bearer` (server APIs: the API key identifies the app). A `?key=` in `request`
    /// must name that same app: an unknown key is a 404, another app's key a 401. A request that carries an `Origin`
    /// (a browser's) must come from one of the app's origins, as for every other route.
    public func admitServer(secret: String?, caller: Caller, request: Request? = nil) -> Result<App, Refusal> {
        let named = request?.uri.queryParameters["key"].map(String.init)
        if let named, self.apps.app(key: named) == nil {
            return .failure(Refusal(status: .notFound, kind: .unknownKey, app: nil, message: "no app with key \(named)"))
        }
        guard let secret, !secret.isEmpty else {
            return .failure(Refusal(status: .unauthorized, kind: .badSignature, app: nil, message: "missing API key"))
        }
        guard let app = self.apps.app(secret: secret), named == nil || named == app.key else {
            return .failure(Refusal(status: .unauthorized, kind: .badSignature, app: nil, message: "invalid API key"))
        }
        return self.check(app, caller: caller)
    }

    /// Records a refusal as a security event.
    public func report(_ refusal: Refusal, caller: Caller) {
        self.report(refusal.kind, app: refusal.app, caller: caller, detail: refusal.message)
    }

    /// Records a security event of `kind`; with `connection`, it also counts against that connection's event budget.
    /// A `blameless` refusal never counts toward an automatic block (see `SecurityEvent.blameless`).
    public func report(
        _ kind: SecurityEvent.Kind,
        app: String?,
        caller: Caller,
        detail: String,
        connection: ConnectionID? = nil,
        blameless: Bool = false
    ) {
        self.security.record(
            SecurityEvent(
                time: WallClock.milliseconds(),
                app: app,
                kind: kind,
                clientIP: caller.ip,
                origin: caller.origin,
                userAgent: caller.userAgent,
                detail: detail,
                connection: connection,
                blameless: blameless
            )
        )
    }
}

import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// Hands `[server] trusted_proxies` to every request's context, so `Caller` can tell who the client is. The list is read
/// per request, so a SIGHUP reload applies to the next one.
///
/// Added first to both routers (a router middleware wraps only the routes added after it): every adapter, admin and
/// proxy route, WebSocket upgrades included, then resolves the client the same way.
struct TrustedProxiesMiddleware: RouterMiddleware {
    typealias Context = SwitchboardContext

    let trusted: LiveSetting<TrustedProxies>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.trustedProxies = self.trusted.current
        return try await next(request, context)
    }
}

import Hummingbird
import SwitchboardAdapterKit

/// A 426 names the upgrade it requires (RFC 9110 §15.5.22: `Upgrade`) and the WebSocket version the edge speaks
/// (RFC 6455 §4.4), whichever adapter's route answered it: a client that sent another version learns which one to use.
struct UpgradeRequiredHeaders: RouterMiddleware {
    typealias Context = SwitchboardContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        guard response.status == .upgradeRequired else { return response }
        if response.headers[.upgrade] == nil { response.headers[.upgrade] = "websocket" }
        if response.headers[.secWebSocketVersion] == nil { response.headers[.secWebSocketVersion] = "13" }
        return response
    }
}

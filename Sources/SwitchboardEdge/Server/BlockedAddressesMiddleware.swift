import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// Refuses (403) a request whose client is in `[server] blocked_addresses`, read per request.
///
/// A blocked peer is closed at accept (`SocketAdmission`), so what reaches this is a trusted proxy's request for a
/// blocked client, or a keep-alive connection opened before a reload blocked its address (or its proxy's).
struct BlockedAddressesMiddleware: RouterMiddleware {
    typealias Context = SwitchboardContext

    let blocked: LiveSetting<AddressRanges>
    let gate: Gate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let ranges = self.blocked.current
        guard !ranges.isEmpty else { return try await next(request, context) }
        let caller = Caller(request: request, context: context)
        guard ranges.contains(client: caller.ip, proxy: caller.proxy) else { return try await next(request, context) }
        self.gate.report(.addressBlocked, app: nil, caller: caller, detail: "blocked address: \(request.method) \(request.uri.path) refused")
        return JSONResponse.error(.forbidden, code: SecurityEvent.Kind.forbidden.name, message: "this address is blocked")
    }
}

import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// The probes a load balancer or orchestrator polls, without a token.
///
/// - `GET /api/health` and its alias `GET /health` (liveness): 200 `{"status":"ok"}`, or 503 `degraded` while the
///   engine is unreachable, so a load balancer sends new clients to a node that can deliver.
/// - `GET /ready` (readiness): 200 `{"status":"ready"}`; 503 `draining` from SIGTERM until the process exits, and 503
///   `degraded` while the engine is unreachable, so no new client is routed to a node that is leaving or cannot deliver.
struct ProbeRoutes: Sendable {
    let bus: Bus
    let shutdown: ShutdownNotice
    let version: String

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/health") { _, _ in self.health() }
        router.get("/health") { _, _ in self.health() }
        router.get("/ready") { _, _ in self.ready() }
    }

    func health() -> Response {
        let available = self.bus.engine.isAvailable
        return self.answer(available ? "ok" : "degraded", ok: available)
    }

    func ready() -> Response {
        if self.shutdown.isAnnounced { return self.answer("draining", ok: false) }
        let available = self.bus.engine.isAvailable
        return self.answer(available ? "ready" : "degraded", ok: available)
    }

    /// `{"status", "version", "engine": {"kind", "status"}}`, 200 or 503.
    func answer(_ status: String, ok: Bool) -> Response {
        JSONResponse.make(ok ? .ok : .serviceUnavailable) { json in
            json.beginObject()
            json.member("status", status)
            json.member("version", self.version)
            json.key("engine")
            json.beginObject()
            json.member("kind", self.bus.engine.kind)
            json.member("status", self.bus.engine.isAvailable ? "ok" : "unavailable")
            json.endObject()
            json.endObject()
        }
    }
}

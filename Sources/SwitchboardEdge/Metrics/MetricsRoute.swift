import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// `GET /metrics`: Prometheus text, behind the admin token unless `[admin] public_metrics = true`.
struct MetricsRoute {
    let metrics: EdgeMetrics
    let authorized: AdminAuthorization
    /// `[admin] public_metrics` is read per request, so a SIGHUP applies to the next scrape.
    let admin: LiveSetting<SwitchboardConfig.Admin>

    func register(on router: Router<SwitchboardContext>) {
        router.get("/metrics") { request, context -> Response in
            if self.admin.current.publicMetrics { return self.response() }
            return try await self.authorized(request, context) { self.response() }
        }
    }

    func response() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: self.metrics.render()))
        )
    }
}

import Hummingbird
import NIOCore
import SwitchboardAdapterKit

/// `GET /metrics`: Prometheus text, behind the admin token unless `[admin] public_metrics = true`.
struct MetricsRoute {
    let metrics: EdgeMetrics
    let authorized: AdminAuthorization
    let isPublic: Bool

    func register(on router: Router<SwitchboardContext>) {
        router.get("/metrics") { request, context -> Response in
            if self.isPublic { return self.response() }
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

import HTTPTypes
import Hummingbird
import Prometheus
import Synchronization

/// HTTP requests and their latency by route: `switchboard_http_requests_total{method,route,status}` and
/// `switchboard_http_request_duration_seconds{method,route}`.
///
/// The route is the router's pattern (`/api/realtime/apps/{app}` as `/api/realtime/apps/:app`), never the raw path, so
/// the series are bounded by the routes; requests no route claims (the reverse proxy's, 404s) share `route="unmatched"`.
/// The latency runs until the response head is ready: an SSE stream counts its set-up, not its life.
final class HTTPMetrics: Sendable {
    static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
    ]

    /// Methods with a label of their own; any other shares `other`.
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    struct Key: Hashable {
        var method: String
        var route: String
    }

    let registry: PrometheusCollectorRegistry
    private let counters = Mutex<[Key: [Int: Counter]]>([:])
    private let histograms = Mutex<[Key: DurationHistogram]>([:])

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Counts one request of `method` to `route` answered with `status` after `duration`.
    func record(method: String, route: String, status: Int, duration: Duration) {
        let key = Key(method: method, route: route)
        let counter = self.counters.withLock { counters in
            if let counter = counters[key]?[status] { return counter }
            let counter = self.registry.makeCounter(
                descriptor: EdgeMetrics.name("http_requests", "total", "HTTP requests by method, route and status."),
                labels: [("method", method), ("route", route), ("status", String(status))]
            )
            counters[key, default: [:]][status] = counter
            return counter
        }
        counter.increment()
        let histogram = self.histograms.withLock { histograms in
            if let histogram = histograms[key] { return histogram }
            let histogram = self.registry.makeDurationHistogram(
                descriptor: EdgeMetrics.name("http_request_duration", "seconds", "Time to the response head, by method and route."),
                labels: [("method", method), ("route", route)],
                buckets: Self.buckets
            )
            histograms[key] = histogram
            return histogram
        }
        histogram.record(duration)
    }
}

/// Times every request of the router it is added to and hands the result to `HTTPMetrics`; add it before the routes.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HTTPMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            self.record(request, context, status: response.status.code, started: started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            self.record(request, context, status: status, started: started)
            throw error
        }
    }

    func record(_ request: Request, _ context: Context, status: Int, started: ContinuousClock.Instant) {
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        // Methods outside the standard set share one label, so a client cannot mint series.
        let method = HTTPMetrics.methods.contains(request.method.rawValue) ? request.method.rawValue : "other"
        self.metrics.record(method: method, route: route, status: status, duration: ContinuousClock.now - started)
    }
}

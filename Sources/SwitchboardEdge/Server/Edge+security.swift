import Logging
import NIOCore
import Prometheus
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

extension Edge {
    /// Where the gate's security events go: every one is counted in `/metrics` by kind; those within the
    /// `[limits] security_events_per_ip_per_second` budget (as a reload leaves it; an IPv6 client's by its /64) are
    /// also stored and logged, the rest counted as dropped.
    static func securitySink(
        writer: SecurityEventWriter,
        metrics: EdgeMetrics,
        limits: LiveLimits,
        logger: Logger
    ) -> any SecurityEventSink {
        metrics.registerSecurityDrops()
        let dropped = metrics.securityEventsDropped(.budget)
        let kept = BudgetedSecuritySink(
            live: limits,
            downstream: FanOutSecuritySink([writer, LogSecuritySink(logger: logger)]),
            addressKey: IPAddress.limitKey(of:),
            onDrop: { _ in dropped.increment() }
        )
        return FanOutSecuritySink([MetricsSecuritySink(metrics: metrics), kept])
    }

    /// Counts the events the store's full queue overwrote (`reason="queue"`).
    static func countQueueDrops(_ metrics: EdgeMetrics) -> @Sendable (Int) -> Void {
        let dropped = metrics.securityEventsDropped(.queue)
        return { count in dropped.increment(by: Int64(count)) }
    }

    /// Admits each accepted connection under `[limits] max_sockets_per_ip`.
    var socketAdmission: SocketAdmission {
        SocketAdmission(
            sockets: self.environment.connections.sockets,
            limits: self.environment.limits,
            trusted: self.trustedProxies,
            blocked: self.addressBlocks.effective,
            gate: self.environment.gate,
            open: self.addressBlocks.openSockets
        )
    }

    /// Records a `bad_request` event for a connection closed with 1002 because it sent an unmasked frame.
    var unmaskedFrameReport: @Sendable (SocketAddress?) -> Void {
        let gate = self.environment.gate
        return { address in
            gate.report(.badRequest, app: nil, caller: Caller(ip: address?.ipAddress), detail: "unmasked WebSocket frame: closed with 1002")
        }
    }

    /// Records an h2 connection closed for a flood of control frames.
    var h2FloodReport: @Sendable (SocketAddress?) -> Void {
        let gate = self.environment.gate
        return { address in
            let detail = "h2 control frames past \(Int(HTTP2FrameBudget.perSecond))/s: GOAWAY ENHANCE_YOUR_CALM"
            gate.report(.rateLimited, app: nil, caller: Caller(ip: address?.ipAddress), detail: detail)
        }
    }
}

import Logging
import SwitchboardCore

/// Writes each security event to the log at notice level (never a secret: details are written for that).
struct LogSecuritySink: SecurityEventSink {
    let logger: Logger

    func record(_ event: SecurityEvent) {
        self.logger.notice(
            "security event",
            metadata: [
                "kind": "\(event.kind.name)", "app": "\(event.app ?? "-")", "ip": "\(event.clientIP ?? "-")",
                "origin": "\(event.origin ?? "-")", "detail": "\(event.detail)",
            ]
        )
    }
}

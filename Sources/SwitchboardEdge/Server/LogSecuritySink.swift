import Logging
import SwitchboardCore

/// Writes each security event to the log at notice level (never a secret: details are written for that).
///
/// Every field a client controls arrives bounded and escaped (`SecurityEventText`), so an event is one short line;
/// it stands behind the event budget, so a flood of refusals is a counter, not a flood of lines.
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

import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// One notification of an alert rule: the episode's transition and where it goes.
///
/// The body is `{"time_ms", "alert": {"rule", "kind", "state", "subject", "value", "threshold", "started_ms",
/// "resolved_ms", "message"}}`; `subject` is the app and level (`"1001 at 80%"`) for usage rules, else empty.
struct AlertNotification: Sendable {
    var rule: AlertRule
    var transition: AlertEpisodes.Transition

    /// A one-line description of the condition, for people reading the receiver's log.
    var message: String {
        let rule = self.rule
        let value = self.transition.value
        let state = self.transition.state == .firing ? "firing" : "resolved"
        switch rule.kind {
        case .securityEvents:
            let scope = rule.app.map { " of app \($0)" } ?? ""
            return "\(rule.name) \(state): \(value) \(rule.event?.name ?? "") events\(scope) in \(rule.windowSeconds) s (threshold \(rule.threshold))"
        case .connections:
            return "\(rule.name) \(state): \(value) connections on this node (threshold \(rule.threshold))"
        case .engineUnavailable:
            return "\(rule.name) \(state): the engine is \(self.transition.state == .firing ? "unavailable" : "available again")"
        case .usage:
            return "\(rule.name) \(state): app \(self.transition.subject) of its monthly messages (\(value) used)"
        }
    }

    /// The JSON body, written at send time.
    func body(timeMilliseconds: Int64) -> ByteBuffer {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.member("time_ms", timeMilliseconds)
        json.key("alert")
        json.beginObject()
        json.member("rule", self.rule.name)
        json.member("kind", self.rule.kind.rawValue)
        json.member("state", self.transition.state.rawValue)
        json.member("subject", self.transition.subject)
        if let event = self.rule.event { json.member("event", event.name) }
        if let app = self.rule.app { json.member("app", app) }
        json.member("value", self.transition.value)
        json.member("threshold", self.rule.threshold)
        if self.rule.kind == .securityEvents { json.member("window_seconds", self.rule.windowSeconds) }
        json.member("started_ms", self.transition.started)
        if let ended = self.transition.ended { json.member("resolved_ms", ended) }
        json.member("message", self.message)
        json.endObject()
        json.endObject()
        return json.buffer
    }
}

import Foundation
import SwitchboardCore

/// One alert rule: what to watch, when it fires, and where its notifications go.
///
/// The same checks apply to `[[alerts]]` entries and admin API bodies, so a rule the API refuses would also stop
/// `serve`, and the other way round. Every field is bounded: a rule is read once per second by the evaluator and its
/// secret signs every notification.
struct AlertRule: Sendable, Equatable {
    /// What a rule watches.
    enum Kind: String, Sendable, CaseIterable {
        /// Security events of one kind above `threshold` within `windowSeconds` (optionally of one app).
        case securityEvents = "security_events"
        /// An app's month-to-date messages at `threshold` percent (default 80) and at 100% of its monthly limit.
        case usage
        /// The engine (Redis) is unreachable: the state `/health` reports as `degraded`.
        case engineUnavailable = "engine_unavailable"
        /// This node's open client connections above `threshold`.
        case connections
    }

    /// Where a rule came from: the config file (read-only through the API) or the admin API (kept in the store).
    enum Source: String, Sendable {
        case config
        case api
    }

    /// A field that failed its check, named as the config and the API name it.
    struct Problem: Error, Equatable {
        let field: String
        let problem: String
    }

    /// The most rules an edge keeps (config and API together), so the evaluator's round stays cheap.
    static let maxRules = 100
    /// The longest security-event window.
    static let maxWindowSeconds = 3600

    var name: String
    var kind: Kind
    /// Events per window, connections, or a usage percentage; 0 for `engine_unavailable`.
    var threshold: Int
    /// The webhook URL notifications are POSTed to (http or https).
    var url: String
    /// Signs each notification's body (HMAC-SHA256 hex in `X-Pusher-Signature`); never shown by the API.
    var secret: String
    /// `security_events` only: the event kind counted.
    var event: SecurityEvent.Kind?
    /// `security_events` and `usage`: only this app (nil: any app).
    var app: String?
    /// `security_events` only: the window the threshold applies to (default 60 s).
    var windowSeconds: Int
    var source: Source

    /// The fields a rule has, for refusing unknown ones (`window_seconds` is also read as `windowSeconds` by the API).
    static let fields: Set<String> = ["name", "kind", "threshold", "url", "secret", "event", "app", "window_seconds"]

    /// Checks every field and builds the rule; the first problem found is thrown, naming its field.
    static func validated(
        name: String?,
        kind: String?,
        threshold: Int64?,
        url: String?,
        secret: String?,
        event: String?,
        app: String?,
        windowSeconds: Int64?,
        source: Source
    ) throws(Problem) -> AlertRule {
        guard let name, (1...64).contains(name.utf8.count), name.utf8.allSatisfy(Self.isNameByte) else {
            throw Problem(field: "name", problem: "is required: 1 to 64 letters, digits, '.', '_' or '-'")
        }
        guard let kindName = kind, let kind = Kind(rawValue: kindName) else {
            let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw Problem(field: "kind", problem: "is required: one of \(known)")
        }
        guard let url, Self.isWebhookURL(url) else {
            throw Problem(field: "url", problem: "is required: an http:// or https:// URL with a host, at most 2048 characters")
        }
        guard let secret, (8...256).contains(secret.utf8.count), !secret.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw Problem(field: "secret", problem: "is required: 8 to 256 characters without spaces")
        }
        var rule = AlertRule(
            name: name,
            kind: kind,
            threshold: 0,
            url: url,
            secret: secret,
            event: nil,
            app: nil,
            windowSeconds: 60,
            source: source
        )
        if let app {
            guard kind == .securityEvents || kind == .usage else { throw Problem(field: "app", problem: "applies only to security_events and usage") }
            guard (1...200).contains(app.utf8.count) else { throw Problem(field: "app", problem: "must be 1 to 200 characters") }
            rule.app = app
        }
        switch kind {
        case .securityEvents:
            guard let eventName = event, let parsed = SecurityEvent.Kind(name: eventName) else {
                let known = SecurityEvent.Kind.all.map(\.name).joined(separator: ", ")
                throw Problem(field: "event", problem: "is required for security_events: one of \(known)")
            }
            rule.event = parsed
            rule.threshold = try Self.bounded(threshold, field: "threshold", in: 0...1_000_000, required: true) ?? 0
            rule.windowSeconds = try Self.bounded(windowSeconds, field: "window_seconds", in: 1...Self.maxWindowSeconds) ?? 60
        case .connections:
            rule.threshold = try Self.bounded(threshold, field: "threshold", in: 0...100_000_000, required: true) ?? 0
        case .usage:
            rule.threshold = try Self.bounded(threshold, field: "threshold", in: 1...100) ?? 80
        case .engineUnavailable:
            guard threshold == nil else { throw Problem(field: "threshold", problem: "does not apply to engine_unavailable") }
        }
        if kind != .securityEvents {
            guard event == nil else { throw Problem(field: "event", problem: "applies only to security_events") }
            guard windowSeconds == nil else { throw Problem(field: "window_seconds", problem: "applies only to security_events") }
        }
        return rule
    }

    static func bounded(_ value: Int64?, field: String, in range: ClosedRange<Int>, required: Bool = false) throws(Problem) -> Int? {
        guard let value else {
            if required { throw Problem(field: field, problem: "is required: a whole number from \(range.lowerBound) to \(range.upperBound)") }
            return nil
        }
        guard value >= Int64(range.lowerBound), value <= Int64(range.upperBound) else {
            throw Problem(field: field, problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(value)
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2E || byte == 0x5F
            || byte == 0x2D
    }

    /// An http or https URL with a host and no user info or fragment, at most 2048 bytes.
    static func isWebhookURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, text.hasPrefix("http://") || text.hasPrefix("https://"),
            !text.contains(where: { $0.isWhitespace }),
            let components = URLComponents(string: text), let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.fragment == nil
        else { return false }
        return true
    }

    /// The secret as the API shows it: its first 4 characters.
    var secretPreview: String { String(self.secret.prefix(4)) + "…" }
}

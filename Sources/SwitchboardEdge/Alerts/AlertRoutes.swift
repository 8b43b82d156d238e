import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// `GET|POST /api/realtime/alerts` and `DELETE /api/realtime/alerts/{name}`, behind the admin token.
///
/// A POST body is one rule: `name`, `kind`, `threshold`, `url`, `secret`, `event`, `app`, `window_seconds` (the
/// checks of `[[alerts]]`); any other member, a wrong type or a value out of bounds is 400 naming the field. The
/// secret is never returned: only its first four characters. Rules from the config cannot be deleted here (409).
struct AlertRoutes: Sendable {
    let alerts: AlertCenter
    let authorized: AdminAuthorization

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/alerts") { request, context in
            try await self.authorized(request, context) { self.list() }
        }
        router.post("/api/realtime/alerts") { request, context in
            try await self.authorized(request, context) {
                let rule = try Self.rule(from: try await AdminBody.read(request))
                let made = try self.alerts.create(rule)
                return JSONResponse.make(.created) { json in
                    json.beginObject()
                    json.key("rule")
                    self.write(made, json: &json)
                    json.endObject()
                }
            }
        }
        router.delete("/api/realtime/alerts/:name") { request, context in
            try await self.authorized(request, context) {
                let name = try context.parameters.require("name")
                switch try self.alerts.delete(name: name) {
                case .notFound: throw AdminError.notFound("no alert rule named \(name)")
                case .configured: throw AdminError.conflict("the alert rule \(name) comes from the config file; remove it there")
                case .deleted(let rule):
                    return JSONResponse.make { json in
                        json.beginObject()
                        json.key("rule")
                        self.write(rule, json: &json)
                        json.endObject()
                    }
                }
            }
        }
    }

    /// `{rules: [...], deliveries: [{rule, subject, state, time, delivered, attempts, status}], dropped}`.
    func list() -> Response {
        let rules = self.alerts.rules
        let deliveries = self.alerts.delivery.recent
        return JSONResponse.make { json in
            json.beginObject()
            json.key("rules")
            json.beginArray()
            for rule in rules { self.write(rule, json: &json) }
            json.endArray()
            json.key("deliveries")
            json.beginArray()
            for record in deliveries {
                json.beginObject()
                json.member("rule", record.rule)
                json.member("subject", record.subject)
                json.member("state", record.state.rawValue)
                json.member("time", record.time)
                json.key("delivered")
                json.bool(record.delivered)
                json.member("attempts", record.attempts)
                json.optionalMember("status", record.status)
                json.endObject()
            }
            json.endArray()
            json.member("dropped", self.alerts.delivery.dropped)
            json.endObject()
        }
    }

    /// `{name, kind, threshold, url, secretPreview, event, app, windowSeconds, source, state, firing: [{subject, since, value}]}`.
    func write(_ rule: AlertRule, json: inout JSONWriter) {
        let firing = self.alerts.firing(rule: rule.name)
        json.beginObject()
        json.member("name", rule.name)
        json.member("kind", rule.kind.rawValue)
        json.member("threshold", rule.threshold)
        json.member("url", rule.url)
        json.member("secretPreview", rule.secretPreview)
        json.optionalMember("event", rule.event?.name)
        json.optionalMember("app", rule.app)
        if rule.kind == .securityEvents { json.member("windowSeconds", rule.windowSeconds) }
        json.member("source", rule.source.rawValue)
        json.member("state", firing.isEmpty ? "ok" : "firing")
        json.key("firing")
        json.beginArray()
        for (subject, episode) in firing.sorted(by: { $0.key < $1.key }) {
            json.beginObject()
            json.member("subject", subject)
            json.member("since", episode.started)
            json.member("value", episode.latest)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }

    /// The rule a POST body describes; every problem is an `AdminError.badRequest` naming its field.
    static func rule(from body: JSONObject) throws -> AlertRule {
        for name in body.keys where !AlertRule.fields.contains(name) && name != "windowSeconds" {
            throw AdminError.badRequest("unknown field \(name) (known: \(AlertRule.fields.sorted().joined(separator: ", ")))")
        }
        func string(_ name: String) throws -> String? {
            guard body.has(name), !body.isNull(name) else { return nil }
            guard let value = body.string(name) else { throw AdminError.badRequest("\(name) must be a string") }
            return value
        }
        func integer(_ name: String) throws -> Int64? {
            guard body.has(name), !body.isNull(name) else { return nil }
            // Digits only: no sign, fraction, exponent or string, and short enough not to overflow.
            guard let raw = body.raw(name), (1...12).contains(raw.readableBytes), raw.readableBytesView.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = body.integer(name)
            else { throw AdminError.badRequest("\(name) must be a whole number") }
            return value
        }
        do {
            return try AlertRule.validated(
                name: try string("name"),
                kind: try string("kind"),
                threshold: try integer("threshold"),
                url: try string("url"),
                secret: try string("secret"),
                event: try string("event"),
                app: try string("app"),
                windowSeconds: try integer("window_seconds") ?? integer("windowSeconds"),
                source: .api
            )
        } catch let problem as AlertRule.Problem {
            throw AdminError.badRequest("\(problem.field) \(problem.problem)")
        }
    }
}

import Foundation
import SwitchboardCore

/// Channel rules and webhooks set through the admin API for one app; what is nil follows the config file.
///
/// Stored as one JSON document per app (SQLite, and a Redis hash shared by the nodes of a cluster):
/// `{"channelRules": [{"match": "chat:*", "client_publish": false, …}], "webhooks": {"url": …, "events": […]} | null}`;
/// a missing member keeps the config's value, `"webhooks": null` turns webhooks off.
struct LiveAppSettings: Sendable, Equatable {
    /// Where an app's webhooks go when the admin API decided it.
    enum Webhooks: Sendable, Equatable {
        /// None are sent, whatever the config says.
        case off
        /// Sent as these settings say.
        case on(WebhookSettings)
    }

    /// The app's rules, first match wins; nil keeps the config's `[[apps.channels]]`.
    var channelRules: [ChannelRule]?
    /// The app's webhooks; nil keeps the config's `[apps.webhooks]`.
    var webhooks: Webhooks?

    /// The most rules one app may hold.
    static let maxRules = 100
    /// The longest webhook URL accepted.
    static let maxURLLength = 2048
    /// The longest history kept by a rule's `history_ttl`: one year.
    static let maxHistoryTTLMilliseconds: Int64 = 365 * 86_400_000
    /// The keys a rule may have (the `[[apps.channels]]` keys, without the config-only product kits).
    static let ruleKeys: Set<String> = [
        "match", "history_size", "history_ttl", "client_publish", "presence", "require_token", "force_recovery", "join_leave",
    ]

    /// True when nothing is set (the config decides everything).
    var isEmpty: Bool { self.channelRules == nil && self.webhooks == nil }

    /// `app` with these settings over the config's; a rule whose `match` equals a config rule with a product kit keeps it.
    func applied(to app: App) -> App {
        var app = app
        if let rules = self.channelRules {
            let kits = Dictionary(app.channelRules.compactMap { rule in rule.kit.map { (rule.match, $0) } }, uniquingKeysWith: { first, _ in first })
            app.channelRules = rules.map { rule in
                var rule = rule
                rule.kit = rule.kit ?? kits[rule.match]
                return rule
            }
        }
        switch self.webhooks {
        case .off: app.webhooks = nil
        case .on(let settings): app.webhooks = settings
        case nil: break
        }
        return app
    }

    // MARK: Reading

    /// A refused value: the path of the member and what is wrong with it (the admin API answers 400 with it).
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var message: String
        var description: String { self.message }
    }

    /// Rules from a JSON array of `[[apps.channels]]`-like objects, each checked; `path` names the array in messages.
    static func rules(_ value: JSONValue, path: String = "rules") throws(Invalid) -> [ChannelRule] {
        guard case .array(let items) = value else { throw Invalid(message: "\(path) must be an array of rules") }
        guard items.count <= Self.maxRules else { throw Invalid(message: "\(path): at most \(Self.maxRules) rules") }
        var rules: [ChannelRule] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let rule = try Self.rule(item, path: "\(path)[\(index)]")
            guard seen.insert(rule.match).inserted else { throw Invalid(message: "\(path)[\(index)].match: \(rule.match) appears twice") }
            rules.append(rule)
        }
        return rules
    }

    /// One rule: `match` (required: `*`, a prefix ending in `*`, a namespace ending in `:` or a channel name), `history_size`
    /// (0–100000), `history_ttl` (a duration like `10m`, at most a year) and the booleans `client_publish`, `presence`,
    /// `require_token`, `force_recovery`, `join_leave`.
    static func rule(_ value: JSONValue, path: String) throws(Invalid) -> ChannelRule {
        guard case .object(let members) = value else { throw Invalid(message: "\(path) must be an object") }
        for name in members.keys.sorted() where !Self.ruleKeys.contains(name) {
            let hint = name == "kit" ? " (product kits are set in the config file)" : " (known: \(Self.ruleKeys.sorted().joined(separator: ", ")))"
            throw Invalid(message: "\(path).\(name): unknown key\(hint)")
        }
        guard case .string(let match)? = members["match"] else { throw Invalid(message: "\(path).match is required: a channel name or pattern") }
        guard Self.isPattern(match) else {
            throw Invalid(message: "\(path).match: \(match) is not *, a channel name, a prefix ending in * or a namespace ending in :")
        }
        var rule = ChannelRule(match: match)
        if let size = members["history_size"] {
            guard case .integer(let number) = size, (0...100_000).contains(number) else {
                throw Invalid(message: "\(path).history_size must be a whole number from 0 to 100000")
            }
            rule.historySize = Int(number)
        }
        if let ttl = members["history_ttl"] {
            guard case .string(let text) = ttl, let parsed = Duration.parseConfig(text), parsed <= Self.maxHistoryTTLMilliseconds else {
                throw Invalid(message: "\(path).history_ttl must be a duration like 90s, 10m, 24h or 7d (at most 365d)")
            }
            rule.historyTTLMilliseconds = parsed
        }
        rule.clientPublish = try Self.flag(members, "client_publish", path: path)
        rule.presence = try Self.flag(members, "presence", path: path)
        rule.requireToken = try Self.flag(members, "require_token", path: path)
        rule.forceRecovery = try Self.flag(members, "force_recovery", path: path)
        rule.joinLeave = try Self.flag(members, "join_leave", path: path)
        return rule
    }

    /// Webhook settings from `{"url": "https://…", "events": [...]}`; `events` defaults like the config's.
    static func webhooks(_ value: JSONValue, path: String = "webhooks") throws(Invalid) -> WebhookSettings {
        guard case .object(let members) = value else { throw Invalid(message: "\(path) must be an object {\"url\": …, \"events\": […]}") }
        for name in members.keys.sorted() where name != "url" && name != "events" {
            throw Invalid(message: "\(path).\(name): unknown key (known: events, url)")
        }
        guard case .string(let url)? = members["url"], Self.isWebhookURL(url) else {
            throw Invalid(message: "\(path).url is required: an http:// or https:// URL of at most \(Self.maxURLLength) characters")
        }
        var events = WebhookSettings.defaultEvents
        if let list = members["events"] {
            guard case .array(let items) = list else { throw Invalid(message: "\(path).events must be an array of event names") }
            events = []
            for (index, item) in items.enumerated() {
                guard case .string(let name) = item, WebhookSettings.knownEvents.contains(name) else {
                    let known = WebhookSettings.knownEvents.joined(separator: ", ")
                    throw Invalid(message: "\(path).events[\(index)] is not a webhook event (known: \(known))")
                }
                if !events.contains(name) { events.append(name) }
            }
        }
        return WebhookSettings(url: url, events: events)
    }

    static func flag(_ members: [String: JSONValue], _ name: String, path: String) throws(Invalid) -> Bool? {
        guard let value = members[name] else { return nil }
        guard case .bool(let flag) = value else { throw Invalid(message: "\(path).\(name) must be true or false") }
        return flag
    }

    /// `*`, a prefix ending in `*`, a namespace ending in `:` or a channel name (every part from the channel-name alphabet).
    static func isPattern(_ match: String) -> Bool {
        if match == "*" { return true }
        let core = match.hasSuffix("*") ? String(match.dropLast()) : match
        return ChannelName.isValid(core)
    }

    static func isWebhookURL(_ url: String) -> Bool {
        guard url.count <= Self.maxURLLength, url.hasPrefix("http://") || url.hasPrefix("https://") else { return false }
        guard !url.contains(where: { $0.isWhitespace }), let parsed = URL(string: url), let host = parsed.host, !host.isEmpty else { return false }
        return parsed.user == nil && parsed.password == nil
    }

    // MARK: The document

    /// Reads a stored document (SQLite or Redis), checking it like an admin request.
    init(document: String) throws(Invalid) {
        let value = try JSONValue.parse(Data(document.utf8))
        guard case .object(let members) = value else { throw Invalid(message: "the live settings document must be an object") }
        if let rules = members["channelRules"] { self.channelRules = try Self.rules(rules, path: "channelRules") }
        if let webhooks = members["webhooks"] {
            self.webhooks = webhooks == .null ? .off : .on(try Self.webhooks(webhooks))
        }
    }

    /// Settings with the given values.
    init(channelRules: [ChannelRule]? = nil, webhooks: Webhooks? = nil) {
        self.channelRules = channelRules
        self.webhooks = webhooks
    }

    /// The stored document (keys sorted, so equal settings give equal text).
    var document: String {
        var members: [String: JSONValue] = [:]
        if let rules = self.channelRules { members["channelRules"] = .array(rules.map(Self.value(of:))) }
        switch self.webhooks {
        case .off: members["webhooks"] = JSONValue.null
        case .on(let settings): members["webhooks"] = Self.value(of: settings)
        case nil: break
        }
        return JSONValue.object(members).text
    }

    /// A rule as the admin API shows it (the config's keys; unset keys left out).
    static func value(of rule: ChannelRule) -> JSONValue {
        var members: [String: JSONValue] = ["match": .string(rule.match)]
        if let size = rule.historySize { members["history_size"] = .integer(Int64(size)) }
        if let ttl = rule.historyTTLMilliseconds { members["history_ttl"] = .string(Self.durationText(ttl)) }
        if let flag = rule.clientPublish { members["client_publish"] = .bool(flag) }
        if let flag = rule.presence { members["presence"] = .bool(flag) }
        if let flag = rule.requireToken { members["require_token"] = .bool(flag) }
        if let flag = rule.forceRecovery { members["force_recovery"] = .bool(flag) }
        if let flag = rule.joinLeave { members["join_leave"] = .bool(flag) }
        return .object(members)
    }

    /// Webhook settings as the admin API shows them.
    static func value(of settings: WebhookSettings) -> JSONValue {
        .object(["url": .string(settings.url), "events": .array(settings.events.map(JSONValue.string))])
    }

    /// Milliseconds as the largest config unit that divides them: `90s`, `10m`, `24h`, `7d`, else `ms`.
    static func durationText(_ milliseconds: Int64) -> String {
        for (suffix, factor) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where milliseconds % factor == 0 {
            return "\(milliseconds / factor)\(suffix)"
        }
        return "\(milliseconds)ms"
    }
}

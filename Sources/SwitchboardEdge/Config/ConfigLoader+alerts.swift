extension ConfigLoader {
    /// `[[alerts]]`: alert rules (`AlertRule`), each checked like an admin API body; a bad field names its key
    /// (`alerts[0].threshold: …`), a repeated name is refused.
    static func alerts(_ top: Reader) throws(ConfigError) -> [AlertRule] {
        guard let tables = try top.tables("alerts") else { return [] }
        guard tables.count <= AlertRule.maxRules else {
            throw ConfigError(key: top.key("alerts"), problem: "at most \(AlertRule.maxRules) rules")
        }
        var rules: [AlertRule] = []
        for table in tables {
            try table.onlyKeys(AlertRule.fields)
            let name = try table.string("name")
            let kind = try table.string("kind")
            let threshold = try table.int("threshold", in: Int.min...Int.max).map(Int64.init)
            let url = try table.string("url")
            let secret = try table.string("secret")
            let event = try table.string("event")
            let app = try table.string("app")
            let window = try table.int("window_seconds", in: Int.min...Int.max).map(Int64.init)
            let rule: AlertRule
            do {
                rule = try AlertRule.validated(
                    name: name,
                    kind: kind,
                    threshold: threshold,
                    url: url,
                    secret: secret,
                    event: event,
                    app: app,
                    windowSeconds: window,
                    source: .config
                )
            } catch {
                throw ConfigError(key: table.key(error.field), problem: error.problem)
            }
            guard !rules.contains(where: { $0.name == rule.name }) else {
                throw ConfigError(key: table.key("name"), problem: "duplicate alert rule name \"\(rule.name)\"")
            }
            rules.append(rule)
        }
        return rules
    }
}

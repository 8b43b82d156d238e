import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct LiveAppSettingsTests {
    static func value(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test func rulesReadTheConfigKeysAndRoundTripThroughTheDocument() throws {
        let rules = try LiveAppSettings.rules(
            Self.value(
                #"[{"match": "chat:*", "client_publish": false, "require_token": true, "history_size": 5, "history_ttl": "10m"}, {"match": "news"}]"#
            )
        )
        #expect(rules.count == 2)
        #expect(rules[0].clientPublish == false && rules[0].requireToken == true && rules[0].historySize == 5)
        #expect(rules[0].historyTTLMilliseconds == 600_000 && rules[1].match == "news" && rules[1].clientPublish == nil)
        let settings = LiveAppSettings(channelRules: rules, webhooks: .off)
        let reread = try LiveAppSettings(document: settings.document)
        #expect(reread == settings)
        #expect(try LiveAppSettings(document: "{}").isEmpty)
    }

    @Test func badRulesAreRefusedWithTheMemberNamed() throws {
        let cases: [(String, String)] = [
            (#"{"match": "a"}"#, "rules must be an array"),
            (#"[{"client_publish": false}]"#, "rules[0].match is required"),
            (#"[{"match": "has space"}]"#, "rules[0].match: has space is not"),
            (#"[{"match": "a", "client_publish": 1}]"#, "rules[0].client_publish must be true or false"),
            (#"[{"match": "a", "history_size": 100001}]"#, "rules[0].history_size must be"),
            (#"[{"match": "a", "history_ttl": "forever"}]"#, "rules[0].history_ttl must be a duration"),
            (#"[{"match": "a", "kit": "calls"}]"#, "product kits are set in the config file"),
            (#"[{"match": "a"}, {"match": "a"}]"#, "rules[1].match: a appears twice"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: LiveAppSettings.Invalid.self) { try LiveAppSettings.rules(Self.value(text)) }
            #expect(error?.message.contains(message) == true, "\(text): \(error?.message ?? "")")
        }
        let many = "[" + (0...LiveAppSettings.maxRules).map { #"{"match": "c\#($0)"}"# }.joined(separator: ",") + "]"
        #expect(throws: LiveAppSettings.Invalid.self) { try LiveAppSettings.rules(Self.value(many)) }
    }

    @Test func webhooksNeedAnHTTPURLAndKnownEvents() throws {
        let settings = try LiveAppSettings.webhooks(Self.value(#"{"url": "https://hooks.example.com/in", "events": ["member_added"]}"#))
        #expect(settings == WebhookSettings(url: "https://hooks.example.com/in", events: ["member_added"]))
        #expect(try LiveAppSettings.webhooks(Self.value(#"{"url": "http://127.0.0.1:9/x"}"#)).events == WebhookSettings.defaultEvents)
        for text in [#"{"url": "ftp://x"}"#, #"{"url": "https://user:pw@x.example.com"}"#, #"{"url": "https://x.example.com", "events": ["nope"]}"#] {
            #expect(throws: LiveAppSettings.Invalid.self) { try LiveAppSettings.webhooks(Self.value(text)) }
        }
    }

    @Test func settingsReplaceTheConfigsRulesButKeepTheirProductKits() {
        var app = App(id: "1", key: "k", secrets: ["s"], channelRules: [ChannelRule(match: "calls:*", historySize: 3)])
        app.channelRules[0].kit = KitRule(kind: .calls)
        app.webhooks = WebhookSettings(url: "https://a.example.com")
        let live = LiveAppSettings(channelRules: [ChannelRule(match: "calls:*", clientPublish: false)], webhooks: .off)
        let merged = live.applied(to: app)
        #expect(merged.channelRules.count == 1 && merged.channelRules[0].kit == app.channelRules[0].kit)
        #expect(merged.policy(for: "calls:1").clientPublish == false)
        #expect(merged.webhooks == nil)
        #expect(LiveAppSettings().applied(to: app) == app)
    }

    @Test func deepOrMalformedJSONIsRefused() {
        let deep = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        #expect(throws: LiveAppSettings.Invalid.self) { try JSONValue.parse(Data(deep.utf8)) }
        #expect(throws: LiveAppSettings.Invalid.self) { try JSONValue.parse(Data("{\"a\":".utf8)) }
    }
}

import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct KitPresetConfigTests {
    static let app = """
        [[apps]]
        id = "1001"
        key = "pk"
        secret = "sk"

        """

    /// The preset files as shipped in `conf/kits/`.
    func preset(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("conf/kits/\(name).toml"), encoding: .utf8)
    }

    func kit(for channel: String, in config: SwitchboardConfig) -> KitRule? {
        config.apps.first?.rule(for: channel)?.kit
    }

    @Test func everyPresetLoadsUnderAnAppWithTheDocumentedDefaults() throws {
        let text = try Self.app + ["chat", "calls", "location", "delivery"].map { try self.preset($0) }.joined(separator: "\n")
        let config = try ConfigLoader.parse(text)
        #expect(self.kit(for: "private-chat.room.42", in: config) == KitRule(kind: .chat, encrypted: true))
        #expect(self.kit(for: "presence-chat.room.42", in: config)?.encrypted == true)
        #expect(self.kit(for: "private-call.room.r.call-1", in: config) == KitRule(kind: .calls, maxSignalBytes: 16_384, iceCandidatesPerSecond: 20))
        #expect(self.kit(for: "private-location.trip.9", in: config) == KitRule(kind: .location, locationUpdatesPerSecond: 1))
        #expect(self.kit(for: "private-delivery.884", in: config)?.kind == .delivery)
        #expect(config.apps.first?.policy(for: "private-location.trip.9").history.size == 1)
        #expect(config.apps.first?.policy(for: "private-call.room.r.c").history.size == 0)
        #expect(self.kit(for: "private-orders", in: config) == nil)
    }

    @Test func kitSettingsNameTheirProblem() {
        let cases: [(String, String)] = [
            ("kit = \"video\"", "apps[0].channels[0].kit: unknown kit \"video\" (known: chat, calls, location, delivery)"),
            ("encrypted = true", "apps[0].channels[0].encrypted: needs a kit on the same rule"),
            ("kit = \"location\"\nencrypted = true", "apps[0].channels[0].encrypted: applies to kit = calls or chat, not location"),
            ("kit = \"calls\"\nmax_signal_bytes = 10", "apps[0].channels[0].max_signal_bytes: must be between 256 and 1048576"),
            ("kit = \"delivery\"\nice_candidates_per_second = 5", "apps[0].channels[0].ice_candidates_per_second: applies to kit = calls"),
        ]
        for (rule, expected) in cases {
            let text = Self.app + "[[apps.channels]]\nmatch = \"x.*\"\n" + rule + "\n"
            #expect(throws: ConfigError.self) { try ConfigLoader.parse(text) }
            do {
                _ = try ConfigLoader.parse(text)
            } catch {
                #expect(error.description.hasPrefix(expected), "\(error.description)")
            }
        }
    }
}

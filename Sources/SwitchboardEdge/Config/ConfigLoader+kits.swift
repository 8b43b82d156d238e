import SwitchboardCore
import TOMLKit

extension ConfigLoader {
    /// The channel-rule keys of the product kits (presets in `conf/kits/`).
    static let kitKeys: Set<String> = ["kit", "encrypted", "max_signal_bytes", "ice_candidates_per_second", "location_updates_per_second"]

    /// A rule's `kit` and its settings; nil when the rule names no kit. A kit setting without its kit is an error,
    /// so `max_signal_bytes` on a chat rule does not pass silently.
    static func kitRule(_ table: Reader) throws(ConfigError) -> KitRule? {
        guard let name = try table.string("kit") else {
            if let stray = ["encrypted", "max_signal_bytes", "ice_candidates_per_second", "location_updates_per_second"].first(where: {
                table.table[$0] != nil
            }) {
                throw ConfigError(
                    key: table.key(stray),
                    problem: "needs a kit on the same rule (kit = \"chat\", \"calls\", \"location\" or \"delivery\")"
                )
            }
            return nil
        }
        guard let kind = KitRule.Kind(rawValue: name) else {
            let known = KitRule.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigError(key: table.key("kit"), problem: "unknown kit \"\(name)\" (known: \(known))")
        }
        var kit = KitRule(kind: kind)
        func only(_ key: String, for kinds: Set<KitRule.Kind>) throws(ConfigError) {
            guard table.table[key] != nil, !kinds.contains(kind) else { return }
            let names = kinds.map(\.rawValue).sorted().joined(separator: " or ")
            throw ConfigError(key: table.key(key), problem: "applies to kit = \(names), not \(name)")
        }
        try only("encrypted", for: [.chat, .calls])
        try only("max_signal_bytes", for: [.calls])
        try only("ice_candidates_per_second", for: [.calls])
        try only("location_updates_per_second", for: [.location])
        kit.encrypted = try table.bool("encrypted") ?? kit.encrypted
        kit.maxSignalBytes = try table.int("max_signal_bytes", in: 256...(1024 * 1024)) ?? kit.maxSignalBytes
        kit.iceCandidatesPerSecond = try table.int("ice_candidates_per_second", in: 1...10_000) ?? kit.iceCandidatesPerSecond
        kit.locationUpdatesPerSecond = try table.int("location_updates_per_second", in: 1...1000) ?? kit.locationUpdatesPerSecond
        return kit
    }
}

import SwitchboardCore

extension ConfigLoader {
    /// The `[limits]` keys that set `ClientLimits`, each connection's budget.
    static let clientLimitKeys = [
        "commands_per_second", "command_burst", "subscribe_burst", "client_publishes_per_second", "presence_updates_per_second",
        "max_presence_metadata_bytes", "max_refusals", "max_queued_bytes", "token_expiry_grace_seconds",
    ]

    /// Reads the per-connection budget from `[limits]`; keys left out keep `ClientLimits`' defaults.
    static func readClientLimits(_ limits: Reader, into client: inout ClientLimits) throws(ConfigError) {
        if let value = try limits.int("commands_per_second", in: 1...1_000_000) { client.commandsPerSecond = Double(value) }
        if let value = try limits.int("command_burst", in: 1...1_000_000) { client.commandBurst = Double(value) }
        if let value = try limits.int("subscribe_burst", in: 0...1_000_000) { client.subscribeBurst = Double(value) }
        if let value = try limits.int("client_publishes_per_second", in: 1...1_000_000) { client.publishesPerSecond = Double(value) }
        if let value = try limits.int("presence_updates_per_second", in: 1...1_000_000) { client.presenceUpdatesPerSecond = Double(value) }
        if let value = try limits.int("max_presence_metadata_bytes", in: 2...1_048_576) { client.maxPresenceMetadataBytes = value }
        if let value = try limits.int("max_refusals", in: 1...1_000_000) { client.maxRefusals = Double(value) }
        if let value = try limits.int("max_queued_bytes", in: 65_536...1_073_741_824) { client.maxQueuedBytes = value }
        if let value = try limits.int("token_expiry_grace_seconds", in: 0...3600) { client.tokenExpiryGraceSeconds = Int64(value) }
    }
}

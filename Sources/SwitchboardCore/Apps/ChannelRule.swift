/// Per-channel settings an app's config adds by name: history, client publish, presence, token requirement.
///
/// `match` is a prefix ending in `*` (`chat:*`), a namespace ending in `:` (`chat:`), or an exact name.
public struct ChannelRule: Sendable, Equatable {
    /// The pattern this rule applies to.
    public var match: String
    /// Messages kept; nil uses the plan's history size.
    public var historySize: Int?
    /// How long messages are kept, in milliseconds; nil uses the default (one hour).
    public var historyTTLMilliseconds: Int64?
    /// Whether clients may publish; nil allows it.
    public var clientPublish: Bool?
    /// Whether presence is allowed; nil allows it.
    public var presence: Bool?
    /// Whether subscribing needs a token even for a public-looking name.
    public var requireToken: Bool?
    /// Whether every subscription is recoverable (`force_recovery`); nil leaves it to the client.
    public var forceRecovery: Bool? = nil
    /// Whether subscribers are sent join and leave pushes (`join_leave`); nil sends them.
    public var joinLeave: Bool? = nil
    /// The product kit whose checks apply to every message on the channel (`kit = "calls"` and its keys; Kits/KitRule.swift).
    public var kit: KitRule? = nil

    /// Creates a rule.
    public init(
        match: String,
        historySize: Int? = nil,
        historyTTLMilliseconds: Int64? = nil,
        clientPublish: Bool? = nil,
        presence: Bool? = nil,
        requireToken: Bool? = nil
    ) {
        self.match = match
        self.historySize = historySize
        self.historyTTLMilliseconds = historyTTLMilliseconds
        self.clientPublish = clientPublish
        self.presence = presence
        self.requireToken = requireToken
    }

    /// True when this rule applies to `channel`.
    public func matches(_ channel: String) -> Bool {
        if self.match == "*" { return true }
        if self.match.hasSuffix("*") { return channel.hasPrefix(self.match.dropLast()) }
        if self.match.hasSuffix(":") { return channel.hasPrefix(self.match) }
        return channel == self.match
    }
}

/// What the rules and the plan decide for one channel.
public struct ChannelPolicy: Sendable, Equatable {
    /// History kept for the channel (size 0 keeps none).
    public var history: HistoryPolicy
    /// Whether clients may publish.
    public var clientPublish: Bool
    /// Whether presence is allowed.
    public var presence: Bool
    /// Whether subscribing and publishing need a token.
    public var requireToken: Bool
    /// Whether every subscription is recoverable, whatever the client asks.
    public var forceRecovery: Bool = false
    /// Whether subscribers are sent join and leave pushes.
    public var joinLeave: Bool = true

    /// One hour: how long messages are kept when no rule says otherwise.
    public static let defaultHistoryTTLMilliseconds: Int64 = 3_600_000
}

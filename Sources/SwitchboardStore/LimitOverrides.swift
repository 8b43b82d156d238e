public import SwitchboardCore

/// Per-app limits that replace the plan's; nil keeps the plan's value.
///
/// For connections, channels and publishes per minute, 0 means unlimited (as in `[plans.NAME]`).
public struct LimitOverrides: Sendable, Equatable {
    public var maxConnections: Int?
    public var maxChannels: Int?
    public var maxMessageBytes: Int?
    public var publishesPerMinute: Int?
    public var historySize: Int?

    /// No overrides: the plan decides everything.
    public init(
        maxConnections: Int? = nil,
        maxChannels: Int? = nil,
        maxMessageBytes: Int? = nil,
        publishesPerMinute: Int? = nil,
        historySize: Int? = nil
    ) {
        self.maxConnections = maxConnections
        self.maxChannels = maxChannels
        self.maxMessageBytes = maxMessageBytes
        self.publishesPerMinute = publishesPerMinute
        self.historySize = historySize
    }

    /// `plan` with these overrides applied; the result keeps the plan's name.
    public func applied(to plan: Plan) -> Plan {
        var plan = plan
        if let value = self.maxConnections { plan.maxConnections = value == 0 ? nil : value }
        if let value = self.maxChannels { plan.maxChannels = value == 0 ? nil : value }
        if let value = self.maxMessageBytes { plan.maxMessageBytes = value }
        if let value = self.publishesPerMinute { plan.publishesPerMinute = value == 0 ? nil : value }
        if let value = self.historySize { plan.historySize = value }
        return plan
    }
}

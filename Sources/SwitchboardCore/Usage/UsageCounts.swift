/// What one app did on one day: messages in, deliveries out and peak concurrent connections, each also by protocol.
public struct UsageCounts: Sendable, Equatable {
    /// Publishes accepted, by the protocol that carried them (`rest`, `pusher`, `jsonaction`, `jwt`).
    public var messagesIn: [String: Int] = [:]
    /// Frames handed to subscribers.
    public var deliveries = 0
    /// The most connections open at once (with several nodes, the sum of each node's peak: an upper bound).
    public var peakConnections = 0
    /// Frames handed to subscribers, by the subscriber's protocol (`pusher`, `jsonaction`, `jwt`, `sse`).
    public var deliveriesByProtocol: [String: Int] = [:]
    /// The most connections of each protocol open at once; each protocol peaks on its own, so these may sum past
    /// `peakConnections`.
    public var peakConnectionsByProtocol: [String: Int] = [:]

    /// Zero counts.
    public init(
        messagesIn: [String: Int] = [:],
        deliveries: Int = 0,
        peakConnections: Int = 0,
        deliveriesByProtocol: [String: Int] = [:],
        peakConnectionsByProtocol: [String: Int] = [:]
    ) {
        self.messagesIn = messagesIn
        self.deliveries = deliveries
        self.peakConnections = peakConnections
        self.deliveriesByProtocol = deliveriesByProtocol
        self.peakConnectionsByProtocol = peakConnectionsByProtocol
    }

    /// Messages in over every protocol.
    public var messagesInTotal: Int { self.messagesIn.values.reduce(0, +) }

    /// True when nothing was counted.
    public var isEmpty: Bool {
        self.messagesIn.isEmpty && self.deliveries == 0 && self.peakConnections == 0 && self.deliveriesByProtocol.isEmpty
            && self.peakConnectionsByProtocol.isEmpty
    }

    /// Adds `other`'s counts (each peak is the larger of the two).
    public mutating func merge(_ other: UsageCounts) {
        for (name, count) in other.messagesIn { self.messagesIn[name, default: 0] += count }
        self.deliveries += other.deliveries
        self.peakConnections = max(self.peakConnections, other.peakConnections)
        for (name, count) in other.deliveriesByProtocol { self.deliveriesByProtocol[name, default: 0] += count }
        for (name, peak) in other.peakConnectionsByProtocol {
            self.peakConnectionsByProtocol[name] = max(self.peakConnectionsByProtocol[name, default: 0], peak)
        }
    }

    /// The store's and Redis's added-up fields: `in.<protocol>`, `out`, `out.<protocol>`.
    public var fields: [(name: String, value: Int)] {
        var fields = self.messagesIn.sorted { $0.key < $1.key }.map { (name: UsageCounts.messagesInPrefix + $0.key, value: $0.value) }
        if self.deliveries > 0 { fields.append((UsageCounts.deliveriesField, self.deliveries)) }
        for (name, count) in self.deliveriesByProtocol.sorted(by: { $0.key < $1.key }) where count > 0 {
            fields.append((UsageCounts.deliveriesPrefix + name, count))
        }
        return fields
    }

    /// The store's and Redis's peak fields, kept as the largest value written: `peak_connections`, `peak.<protocol>`.
    public var peakFields: [(name: String, value: Int)] {
        var fields: [(name: String, value: Int)] = []
        if self.peakConnections > 0 { fields.append((UsageCounts.peakField, self.peakConnections)) }
        for (name, peak) in self.peakConnectionsByProtocol.sorted(by: { $0.key < $1.key }) where peak > 0 {
            fields.append((UsageCounts.peakPrefix + name, peak))
        }
        return fields
    }

    /// Adds one stored field back (the inverse of `fields` and `peakFields`); unknown names are ignored.
    public mutating func add(field name: String, value: Int) {
        if name.hasPrefix(Self.messagesInPrefix) {
            self.messagesIn[String(name.dropFirst(Self.messagesInPrefix.count)), default: 0] += value
        } else if name == Self.deliveriesField {
            self.deliveries += value
        } else if name.hasPrefix(Self.deliveriesPrefix) {
            self.deliveriesByProtocol[String(name.dropFirst(Self.deliveriesPrefix.count)), default: 0] += value
        } else if name == Self.peakField {
            self.peakConnections = max(self.peakConnections, value)
        } else if name.hasPrefix(Self.peakPrefix) {
            let name = String(name.dropFirst(Self.peakPrefix.count))
            self.peakConnectionsByProtocol[name] = max(self.peakConnectionsByProtocol[name, default: 0], value)
        }
    }

    /// Field name prefix of messages in.
    public static let messagesInPrefix = "in."
    /// Field name of deliveries out.
    public static let deliveriesField = "out"
    /// Field name prefix of deliveries out by protocol.
    public static let deliveriesPrefix = "out."
    /// Field name of the peak of concurrent connections.
    public static let peakField = "peak_connections"
    /// Field name prefix of the peak of concurrent connections by protocol.
    public static let peakPrefix = "peak."
}

/// Counts of several apps and days, as one flush writes them.
public struct UsageBatch: Sendable, Equatable {
    /// Counts by app, then by day.
    public var apps: [String: [UsageDay: UsageCounts]] = [:]

    /// An empty batch.
    public init(apps: [String: [UsageDay: UsageCounts]] = [:]) { self.apps = apps }

    /// True when there is nothing to write.
    public var isEmpty: Bool { self.apps.isEmpty }
}

/// Where usage is kept between restarts and summed between nodes: the SQLite store, or Redis with several nodes.
///
/// Writes are increments (`add`), so several nodes writing the same app and day add up instead of overwriting.
public protocol UsageLedger: Sendable {
    /// Adds the batch's counts to what is kept.
    func add(_ batch: UsageBatch) async throws
    /// Kept counts of `app` for each day from `from` to `to` (inclusive) that has any.
    func days(app: String, from: UsageDay, to: UsageDay) async throws -> [UsageDay: UsageCounts]
    /// Messages in per app (every app that has any) over the days from `from` to `to`.
    func messagesIn(from: UsageDay, to: UsageDay) async throws -> [String: Int]
}

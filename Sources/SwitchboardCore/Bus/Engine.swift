/// Receives what an engine delivers to this node: every message for channels this node subscribed to.
public protocol BrokerEventHandler: Sendable {
    /// Fans `message` out to local subscribers.
    func handle(_ message: BusMessage)
}

/// Cross-node fan-out, history and presence behind the bus.
///
/// The memory engine serves one node; a Redis engine lets many nodes share one bus. The bus code
/// does not change between them, and one conformance suite runs against each.
public protocol Engine: Sendable {
    /// A short name for status pages: `memory`, `redis`.
    var kind: String { get }
    /// The presence store this engine keeps members in.
    var presence: any PresenceStore { get }
    /// Sets where received messages go; called once before any other method.
    func attach(_ handler: any BrokerEventHandler)
    /// Publishes to every node; with `history`, assigns the next position and keeps the message.
    func publish(_ publication: Publication, history: HistoryPolicy?) async throws -> Publication
    /// Fans a presence change out to every node.
    func publish(_ change: PresenceChange) async throws
    /// This node now has local subscribers of the channel.
    func subscribe(app: String, channel: String) async throws
    /// This node no longer has local subscribers of the channel.
    func unsubscribe(app: String, channel: String) async throws
    /// Kept messages after `offset` (all kept when nil), oldest first, at most `limit`.
    func history(app: String, channel: String, after offset: UInt64?, limit: Int?, policy: HistoryPolicy) async throws -> HistoryPage
    /// Drops a channel's kept messages; the next publish starts a new epoch.
    func removeHistory(app: String, channel: String) async throws
    /// Trims expired history; called periodically by the janitor.
    func sweep(now: Int64) async throws
}

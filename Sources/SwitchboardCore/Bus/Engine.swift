/// Receives what an engine delivers to this node: every message for channels this node subscribed to.
public protocol BrokerEventHandler: Sendable {
    /// Fans `message` out to local subscribers.
    func handle(_ message: BusMessage)
    /// This node's load, by app: what an engine shares so every node can answer cluster-wide counts and limits.
    func localLoad() -> [String: NodeLoad]
    /// The other nodes' load of the apps this node reported, as they last reported it (`[:]` when there is none).
    func otherNodesReported(_ loads: [String: NodeLoad])
    /// Whether the other nodes' load of `app` is wanted after each report: reading it costs the engine work in
    /// proportion to the app's channels every interval, so only apps whose plan limits them across nodes ask.
    func wantsOtherNodesLoad(app: String) -> Bool
    /// Carries out a command another node sent (`Engine.sendToOtherNodes`).
    func handle(_ command: NodeCommand)
}

/// Cross-node fan-out, history and presence behind the bus.
///
/// The memory engine serves one node; a Redis engine lets many nodes share one bus. The bus code
/// does not change between them, and one conformance suite runs against each.
public protocol Engine: Sendable {
    /// A short name for status pages: `memory`, `redis`.
    var kind: String { get }
    /// Whether the engine can carry publishes now; false while its backend (Redis) is unreachable.
    var isAvailable: Bool { get }
    /// The presence store this engine keeps members in.
    var presence: any PresenceStore { get }
    /// Sets where received messages go; called once before any other method.
    func attach(_ handler: any BrokerEventHandler)
    /// Publishes to every node; with `history`, assigns the next position and keeps the message.
    func publish(_ publication: Publication, history: HistoryPolicy?) async throws -> Publication
    /// Publishes as above unless the channel saw `idempotencyKey` within its window; then delivers and keeps nothing and
    /// answers with the first publish's position. The check and the publish are one step, so concurrent retries
    /// publish once, on any node.
    func publish(_ publication: Publication, history: HistoryPolicy?, idempotencyKey: IdempotencyKey) async throws -> IdempotentPublish
    /// Fans a presence change out to every node.
    func publish(_ change: PresenceChange) async throws
    /// This node now has local subscribers of the channel.
    func subscribe(app: String, channel: String) async throws
    /// This node no longer has local subscribers of the channel.
    func unsubscribe(app: String, channel: String) async throws
    /// Kept messages after `offset` (all kept when nil), oldest first, at most `limit`.
    func history(app: String, channel: String, after offset: UInt64?, limit: Int?, policy: HistoryPolicy) async throws -> HistoryPage
    /// The newest kept messages after `offset`, at most `count` of them and `bytes` of data together, oldest first, and
    /// where the stream stands: a replay that fits the connection it goes to, read without the rest of the stream.
    func replay(app: String, channel: String, after offset: UInt64, count: Int, bytes: Int, policy: HistoryPolicy) async throws -> HistoryPage
    /// Kept messages after `offset` (at most `limit`, all when nil) and where the stream stands, starting the stream (a
    /// fresh epoch at offset 0) when none exists.
    ///
    /// For positioned subscribes: the epoch handed out then names this run of the stream, so a later reset is seen as one.
    func historyStartingStream(app: String, channel: String, after offset: UInt64, limit: Int?, policy: HistoryPolicy) async throws -> HistoryPage
    /// Drops a channel's kept messages but keeps its stream: the epoch and the top offset stay, so the next publish
    /// continues the offsets and a client at the top position still recovers (Centrifugo's history removal).
    func removeHistory(app: String, channel: String) async throws
    /// Trims expired history; called periodically by the janitor.
    func sweep(now: Int64) async throws
    /// What every channel's kept messages hold together (`[limits] max_history_mb` bounds it), as last counted: read
    /// at each scrape, so an engine that counts elsewhere answers from its last sweep. Nil before it first knows.
    var historyBytes: Int? { get }
    /// Subscribers per channel of `app` on every node, given this node's own (`local`).
    func channels(app: String, local: [String: Int]) async throws -> [String: Int]
    /// Hands `command` to every other node's handler (not this node's: its caller carries it out here itself).
    func sendToOtherNodes(_ command: NodeCommand) async throws
}

extension Engine {
    /// An engine inside this process is always available.
    public var isAvailable: Bool { true }

    /// A single-node engine's counts are this node's.
    public func channels(app: String, local: [String: Int]) async throws -> [String: Int] { local }

    /// Every kept message after `offset`, starting the stream when none exists.
    public func historyStartingStream(app: String, channel: String, after offset: UInt64, policy: HistoryPolicy) async throws -> HistoryPage {
        try await self.historyStartingStream(app: app, channel: channel, after: offset, limit: nil, policy: policy)
    }

    /// The replay cut from the whole history after `offset`: in memory, reading it costs no more than what it returns.
    public func replay(
        app: String,
        channel: String,
        after offset: UInt64,
        count: Int,
        bytes: Int,
        policy: HistoryPolicy
    ) async throws
        -> HistoryPage
    {
        var page = try await self.history(app: app, channel: channel, after: offset, limit: nil, policy: policy)
        page.publications = Array(Recovery.newest(page.publications, frames: count, bytes: bytes))
        return page
    }

    /// A single-node engine has no other node to tell.
    public func sendToOtherNodes(_ command: NodeCommand) async throws {}
}

extension BrokerEventHandler {
    /// Every app's, unless the handler says otherwise.
    public func wantsOtherNodesLoad(app: String) -> Bool { true }
}

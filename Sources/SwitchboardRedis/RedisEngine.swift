public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// The engine that lets several Switchboard nodes share one bus through Redis.
///
/// - Fan-out: each publication goes to the channel's pub/sub topic; a node subscribes to a topic while it has
///   local subscribers of the channel (one dedicated subscriber connection, resubscribed after a reconnect), and
///   hands what arrives to the bus. A node gets its own publications back the same way, so every node sees a
///   channel's messages in the one order Redis published them.
/// - History: one Lua script assigns the next offset, appends to the channel's stream (trimmed to the policy's
///   size and age, expiring with its ttl, and all streams together within `maxHistoryBytes`, RedisScripts+ledger), keeps the epoch in a meta hash (a new random epoch when the hash is
///   missing, which means the history was lost) and publishes, atomically. A positioned subscribe's read starts a
///   missing stream too, its meta hash expiring with the ttl and at most `maxMessagelessStreams` per app waiting for
///   their first message.
/// - Idempotency: a publish with an `IdempotencyKey` checks and records the key (a hash expiring with the key's
///   window) inside the same script as the publish, so a retry on any node is answered with the first position.
/// - Presence: `RedisPresenceStore`.
/// - Faults: while Redis is unreachable, publishes and presence changes throw `EngineUnavailable` (nothing is
///   queued or silently dropped); subscriptions are remembered and sent once the connection is back. A command
///   Redis does not answer within `connection.commandTimeout` throws `EngineUnavailable` too (it may still run).
///
/// It is a `Service`: run it (before the HTTP server, stopped after it) to keep its connections up.
///
/// ```swift
/// let engine = RedisEngine(configuration: .init(url: try RedisURL(parsing: "redis://127.0.0.1:6379/0")))
/// let bus = Bus(engine: engine, apps: apps)
/// // in the service group: [engine, ..., server]
/// ```
public final class RedisEngine: Engine, Service {
    /// How the engine reaches Redis and lays out its keys.
    public struct Configuration: Sendable {
        /// The Redis server.
        public var url: RedisURL
        /// The key prefix, so several clusters share one Redis. Default `switchboard`.
        public var prefix = "switchboard"
        /// How long a presence holder lives without being refreshed (the edge's presence timeout). Default 30 s.
        public var presenceTimeout: Duration = .seconds(30)
        /// Where the presence timeout in force is read at each use, when it can change while running (SIGHUP); nil keeps
        /// `presenceTimeout`.
        public var presenceTimeoutFrom: (@Sendable () -> Duration)?
        /// How often this node reports its subscriber counts for cluster-wide counts.
        public var occupancyInterval: Duration = .seconds(1)
        /// Connection settings (backoff, timeouts, RESP3) shared by both connections.
        public var connection: RedisConnection.Configuration
        /// The most streams a read started that still have no message, per app; past it the oldest are forgotten
        /// (a client holding one is told it cannot recover). Default 10,000, as the memory engine.
        public var maxMessagelessStreams = MemoryEngine.defaultMaxMessagelessStreams
        /// What every stream's kept entries may hold together in this Redis (`[limits] max_history_mb`), read at each
        /// publish; past it the largest app's largest streams lose their oldest entries, as in the memory engine.
        public var maxHistoryBytes: @Sendable () -> Int = { MemoryEngine.defaultMaxHistoryBytes }

        /// Creates a configuration with the defaults above.
        public init(url: RedisURL, prefix: String = "switchboard", presenceTimeout: Duration = .seconds(30)) {
            self.url = url
            self.prefix = prefix
            self.presenceTimeout = presenceTimeout
            self.connection = RedisConnection.Configuration(url: url)
        }
    }

    /// Where received messages go; shared with the subscriber connection's callback.
    private final class Inbox: Sendable {
        let handler = Mutex<(any BrokerEventHandler)?>(nil)
        let codec: RedisWireCodec
        let logger: Logger

        init(codec: RedisWireCodec, logger: Logger) {
            self.codec = codec
            self.logger = logger
        }

        func receive(_ payload: ByteBuffer) {
            do {
                let message = try self.codec.decodePayload(payload)
                self.handler.withLock { $0 }?.handle(message)
            } catch {
                self.logger.error("dropped an undecodable pub/sub message", metadata: ["error": "\(error)"])
            }
        }
    }

    public let kind = "redis"
    public let presence: any PresenceStore
    /// The presence store, typed.
    public let redisPresence: RedisPresenceStore
    /// The configuration.
    public let configuration: Configuration
    /// This node's random id (it tells this node's connections apart from other nodes').
    public let nodeID: String
    let keys: RedisKeys
    let commands: RedisConnection
    let pubsub: RedisPubSub
    private let codec: RedisWireCodec
    private let inbox: Inbox
    private let makeEpoch: @Sendable () -> String
    /// The history ledger's total at the last sweep; -1 before one read it.
    private let lastHistoryTotal = Atomic<Int>(-1)
    let occupancy: RedisOccupancy
    /// Control-plane notices between nodes (RedisControlNotices.swift).
    let control: RedisControlNotices
    /// Server API commands between nodes (RedisNodeCommands.swift).
    let nodeCommands: RedisNodeCommands

    /// Creates the engine; it connects when `run()` starts.
    public init(
        configuration: Configuration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "switchboard.redis"),
        makeEpoch: @escaping @Sendable () -> String = { Epoch.random() }
    ) {
        self.configuration = configuration
        self.nodeID = Epoch.random() + Epoch.random()
        self.keys = RedisKeys(prefix: configuration.prefix)
        self.codec = RedisWireCodec(nodeID: self.nodeID)
        self.makeEpoch = makeEpoch
        let inbox = Inbox(codec: self.codec, logger: logger)
        self.inbox = inbox
        self.commands = RedisConnection(configuration: configuration.connection, group: group, logger: logger)
        let control = RedisControlNotices(prefix: configuration.prefix)
        self.control = control
        let nodeCommands = RedisNodeCommands(prefix: configuration.prefix, nodeID: self.nodeID)
        self.nodeCommands = nodeCommands
        self.pubsub = RedisPubSub(configuration: configuration.connection, group: group, logger: logger) { topic, payload in
            if control.claims(topic) {
                control.receive(payload)
            } else if nodeCommands.claims(topic) {
                if let command = nodeCommands.decode(payload) { inbox.handler.withLock { $0 }?.handle(command) }
            } else {
                inbox.receive(payload)
            }
        }
        self.redisPresence = RedisPresenceStore(
            connection: self.commands,
            keys: self.keys,
            nodeID: self.nodeID,
            timeout: configuration.presenceTimeoutFrom ?? { [timeout = configuration.presenceTimeout] in timeout }
        )
        self.presence = self.redisPresence
        self.occupancy = RedisOccupancy(connection: self.commands, keys: self.keys, nodeID: self.nodeID, interval: configuration.occupancyInterval)
    }

    /// Keeps both connections up and refreshes this node's presence until cancelled or shut down gracefully.
    public func run() async throws {
        // Kept across reconnects, like every topic of the subscriber connection.
        await self.pubsub.subscribe(self.nodeCommands.topic)
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.commands.run() }
                group.addTask { await self.pubsub.run() }
                group.addTask { await self.redisPresence.runRefresher() }
                group.addTask { await self.occupancy.run() }
            }
        }
    }

    /// True while both connections are up and Redis answers them within the command timeout (health says
    /// degraded otherwise).
    public var isAvailable: Bool {
        self.commands.status == .ready && !self.commands.isStalled && self.pubsub.status == .ready && !self.pubsub.isStalled
    }

    /// Hears the round trip of each command on the command connection (metrics).
    public var commandTimer: RedisCommandTimer { self.commands.timer }

    /// Waits until both connections are up, at most `timeout`; returns whether they are.
    public func waitUntilAvailable(timeout: Duration) async -> Bool {
        let commands = await self.commands.waitUntilReady(timeout: timeout)
        let pubsub = await self.pubsub.waitUntilReady(timeout: timeout)
        return commands && pubsub
    }

    /// Runs `body`, turning "connection down" into `EngineUnavailable`.
    @discardableResult
    static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RedisError where error.isUnavailable {
            throw EngineUnavailable(engine: "redis", reason: "\(error)")
        }
    }

    public func attach(_ handler: any BrokerEventHandler) {
        self.inbox.handler.withLock { $0 = handler }
        self.occupancy.attach(
            local: { handler.localLoad() },
            elsewhere: { handler.otherNodesReported($0) },
            wants: { handler.wantsOtherNodesLoad(app: $0) }
        )
    }

    public func sendToOtherNodes(_ command: NodeCommand) async throws {
        var publish = RedisCommand("PUBLISH", self.nodeCommands.topic)
        publish.append(self.nodeCommands.encode(command))
        try await Self.mapped { _ = try await self.commands.send(publish) }
    }

    public func channels(app: String, local: [String: Int]) async throws -> [String: Int] {
        try await Self.mapped { try await self.occupancy.channels(app: app, local: local) }
    }

    public func publish(_ publication: Publication, history: HistoryPolicy?) async throws -> Publication {
        let id = self.keys.channelID(app: publication.app, channel: publication.channel)
        guard let history, history.size > 0 else {
            var command = RedisCommand("PUBLISH", self.keys.topic(id))
            command.append(self.codec.payload(publication))
            try await Self.mapped { try await self.commands.send(command) }
            return publication
        }
        let reply = try await Self.mapped {
            try await self.commands.run(
                RedisScripts.publish,
                keys: self.historyKeys(id, app: publication.app),
                arguments: self.historyArguments(publication, id, history)
            )
        }
        guard let parts = reply.elements, parts.count == 2, let offset = parts[0].int, let epoch = parts[1].string else {
            throw RedisError.unexpectedReply("publish script returned \(reply)")
        }
        var kept = publication
        kept.position = StreamPosition(offset: UInt64(offset), epoch: epoch)
        return kept
    }

    /// Checks and records the key in the same script as the publish, so retries racing on two nodes publish once.
    public func publish(_ publication: Publication, history: HistoryPolicy?, idempotencyKey: IdempotencyKey) async throws -> IdempotentPublish {
        let id = self.keys.channelID(app: publication.app, channel: publication.channel)
        let record = self.keys.idempotency(id, key: idempotencyKey.value)
        let window = ByteBuffer(string: String(idempotencyKey.windowMilliseconds))
        let reply = try await Self.mapped {
            if let history, history.size > 0 {
                return try await self.commands.run(
                    RedisScripts.publishIdempotent,
                    keys: self.historyKeys(id, app: publication.app) + [record],
                    arguments: self.historyArguments(publication, id, history) + [window]
                )
            }
            return try await self.commands.run(
                RedisScripts.publishIdempotentWithoutHistory,
                keys: [record],
                arguments: [self.codec.payload(publication), ByteBuffer(string: self.keys.topic(id)), window]
            )
        }
        guard let parts = reply.elements, parts.count == 3, let offset = parts[0].int, let epoch = parts[1].string, let duplicate = parts[2].int
        else {
            throw RedisError.unexpectedReply("idempotent publish script returned \(reply)")
        }
        var answer = publication
        answer.position = offset > 0 && !epoch.isEmpty ? StreamPosition(offset: UInt64(offset), epoch: epoch) : nil
        return IdempotentPublish(publication: answer, isDuplicate: duplicate == 1)
    }

    /// The history publish scripts' keys: meta, stream, the app's message-less streams, the ledger's.
    private func historyKeys(_ id: String, app: String) -> [String] {
        [self.keys.meta(id), self.keys.stream(id), self.keys.messageless(app: app)] + self.keys.ledger(app: app)
    }

    /// The history publish scripts' arguments (`RedisScripts.publish`).
    private func historyArguments(_ publication: Publication, _ id: String, _ history: HistoryPolicy) -> [ByteBuffer] {
        let ttl = max(1, history.ttlMilliseconds)
        return [
            self.codec.encode(publication), ByteBuffer(string: String(history.size)), ByteBuffer(string: String(ttl)),
            ByteBuffer(string: self.makeEpoch()), ByteBuffer(string: self.keys.topic(id)), ByteBuffer(string: String(publication.timestamp)),
            // The epoch outlives the messages, as the memory engine forgets an idle stream after twice its ttl.
            ByteBuffer(string: String(ttl > Int64.max / 2 ? Int64.max / 2 : 2 * ttl)),
            ByteBuffer(string: String(max(0, self.configuration.maxHistoryBytes()))),
        ]
    }

    public func publish(_ change: PresenceChange) async throws {
        var command = RedisCommand("PUBLISH", self.keys.topic(self.keys.channelID(app: change.app, channel: change.channel)))
        command.append(self.codec.payload(change))
        try await Self.mapped { try await self.commands.send(command) }
    }

    public func subscribe(app: String, channel: String) async throws {
        await self.pubsub.subscribe(self.keys.topic(self.keys.channelID(app: app, channel: channel)))
        // Best effort: while Redis is away the next full report says it.
        try? await self.occupancy.update(app: app, channel: channel, count: 1)
    }

    public func unsubscribe(app: String, channel: String) async throws {
        await self.pubsub.unsubscribe(self.keys.topic(self.keys.channelID(app: app, channel: channel)))
        try? await self.occupancy.update(app: app, channel: channel, count: 0)
    }

    public func history(app: String, channel: String, after offset: UInt64?, limit: Int?, policy: HistoryPolicy) async throws -> HistoryPage {
        try await self.readHistory(RedisScripts.history, app: app, channel: channel, after: offset, limit: limit, policy: policy, starting: nil)
    }

    /// Reads only the replay: the script stops at `count` entries or `bytes` of them, newest first.
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
        try await self.readHistory(
            RedisScripts.replay,
            app: app,
            channel: channel,
            after: offset,
            limit: max(0, count),
            policy: policy,
            starting: nil,
            maxBytes: max(0, bytes)
        )
    }

    public func historyStartingStream(
        app: String,
        channel: String,
        after offset: UInt64,
        limit: Int? = nil,
        policy: HistoryPolicy
    ) async throws -> HistoryPage {
        let starting = [ByteBuffer(string: self.makeEpoch()), ByteBuffer(string: String(max(1, self.configuration.maxMessagelessStreams)))]
        return try await self.readHistory(
            RedisScripts.historyStartingStream,
            app: app,
            channel: channel,
            after: offset,
            limit: limit,
            policy: policy,
            starting: starting
        )
    }

    /// Runs one of the history scripts; `starting` (a new epoch and the cap) is what `historyStartingStream` adds.
    private func readHistory(
        _ script: RedisScript,
        app: String,
        channel: String,
        after offset: UInt64?,
        limit: Int?,
        policy: HistoryPolicy,
        starting: [ByteBuffer]?,
        maxBytes: Int? = nil
    ) async throws -> HistoryPage {
        let id = self.keys.channelID(app: app, channel: channel)
        let newestFirst = maxBytes != nil || (offset == nil && limit != nil)
        let first = offset.map { $0 == UInt64.max ? "+" : "\($0 + 1)-0" } ?? "-"
        var keys = [self.keys.meta(id), self.keys.stream(id)]
        if starting != nil { keys.append(self.keys.messageless(app: app)) }
        keys += self.keys.ledger(app: app)
        let arguments =
            [
                ByteBuffer(string: first), ByteBuffer(string: limit.map { String(max(1, $0)) } ?? ""),
                ByteBuffer(string: newestFirst ? "1" : "0"),
                ByteBuffer(string: String(WallClock.milliseconds())), ByteBuffer(string: String(max(1, policy.ttlMilliseconds))),
            ] + (starting ?? maxBytes.map { [ByteBuffer(string: String($0))] } ?? [])
        let reply = try await Self.mapped { try await self.commands.run(script, keys: keys, arguments: arguments) }
        guard let parts = reply.elements, parts.count == 3 else { return HistoryPage(publications: [], latest: nil, truncated: false) }
        guard let top = parts[0].int, let epoch = parts[1].string else { throw RedisError.unexpectedReply("history script returned \(reply)") }
        var publications: [Publication] = []
        for entry in parts[2].elements ?? [] {
            guard let pair = entry.elements, pair.count == 2, let entryID = pair[0].string,
                let entryOffset = entryID.split(separator: "-").first.flatMap({ UInt64($0) }), let fields = pair[1].elements
            else { continue }
            var body: ByteBuffer?
            for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].string == "d" { body = fields[index + 1].bytes }
            guard let body else { continue }
            publications.append(try self.codec.decodePublication(body, position: StreamPosition(offset: entryOffset, epoch: epoch)))
        }
        if newestFirst { publications.reverse() }
        if let limit, publications.count > limit { publications = Array(publications.prefix(max(0, limit))) }
        let latest = StreamPosition(offset: UInt64(top), epoch: epoch)
        var truncated = false
        if let offset, offset < latest.offset {
            // A gap when the first kept message after `offset` is not the very next one.
            truncated = publications.first?.position?.offset != offset + 1
            if publications.isEmpty, limit == 0 { truncated = false }
        }
        return HistoryPage(publications: publications, latest: latest, truncated: truncated)
    }

    /// Deletes the kept entries only: the meta hash (epoch and top offset) stays until its own ttl, as in Centrifugo.
    public func removeHistory(app: String, channel: String) async throws {
        let id = self.keys.channelID(app: app, channel: channel)
        let keys = [self.keys.meta(id), self.keys.stream(id)] + self.keys.ledger(app: app)
        try await Self.mapped { try await self.commands.run(RedisScripts.removeHistory, keys: keys, arguments: []) }
    }

    /// What every stream's kept entries hold together in this Redis, as the ledger counts them.
    public func keptHistoryBytes() async throws -> Int {
        try await Self.mapped { try await self.commands.send(RedisCommand("GET", self.keys.historyTotal)) }.string.flatMap { Int($0) } ?? 0
    }

    /// The ledger's total as of the last sweep (every node's history in this Redis), for `/metrics`.
    public var historyBytes: Int? {
        let total = self.lastHistoryTotal.load(ordering: .relaxed)
        return total < 0 ? nil : total
    }

    /// Redis expires history by itself (key ttls, and trimming on every publish and read); the sweep only reads the
    /// ledger's total for the metrics. While Redis is down the last total stays.
    public func sweep(now: Int64) async throws {
        if let total = try? await self.keptHistoryBytes() { self.lastHistoryTotal.store(total, ordering: .relaxed) }
    }
}

public import NIOCore
import Synchronization

/// The node's facade over the hub (local subscriptions) and the engine (fan-out, history, presence).
///
/// It applies the app's limits (channels, connections, message size, publish rate) and knows nothing
/// of any wire protocol: adapters translate their frames into these calls.
public final class Bus: BrokerEventHandler {
    /// Local subscriptions.
    public let hub: Hub
    /// Cross-node fan-out, history and presence.
    public let engine: any Engine
    /// The apps served.
    public let apps: AppRegistry
    /// Message counters.
    public let stats = BusStats()
    /// Messages in and deliveries out per second, sampled by the janitor.
    public let throughput = Throughput()
    /// Who hears channel changes on this node (webhooks, subscription counts, caches).
    public let observers = ChannelObservers()
    /// This node's usage per app and day, and each app's month-to-date messages for `monthly_messages` (Usage/UsageTally.swift).
    public let usage = UsageTally()
    /// Kit rules (chat, calls, location, delivery) for channels whose rule names a kit (Kits/KitGuard.swift).
    public let kits = KitGuard()
    /// The edge's `[limits]`: the presence timeout and the metadata bound are read from it at each use, so SIGHUP changes them.
    public let limits: LiveLimits
    /// Slows publishers while the sockets' writes lag behind (`Edge` sets it to its event loops' write batches).
    public let pacer: PublishPacer?
    /// How long a presence holder lasts without being heard of, in milliseconds (`[limits] presence_timeout_seconds`).
    public var presenceTimeoutMilliseconds: Int64 { Int64(self.limits.current.presenceTimeoutSeconds) * 1000 }
    /// The largest presence metadata a join or update may carry (`[limits] max_presence_metadata_bytes`).
    public var maxPresenceMetadataBytes: Int { self.limits.current.client.maxPresenceMetadataBytes }

    private let limiter: RateLimiter
    /// Connection ids start at a random 32-bit prefix per process, so ids from different nodes (sender
    /// exclusion, Pusher socket ids) do not collide on a shared engine; they stay below 2^52 for JavaScript clients.
    private let nextConnection = Atomic<UInt64>(UInt64(UInt32.random(in: 1...UInt32.max)) << 20 | 1)
    /// Channels counted against each app's plan: app → channel → holds (one for its local subscribers, one per
    /// presence-only join), so a presence join without a subscription occupies a channel too.
    private let heldChannels = Mutex<[String: [String: Int]]>([:])
    /// The other nodes' load of each app this node holds, as the engine last heard it: plan limits count it too.
    private let elsewhere = Mutex<[String: NodeLoad]>([:])
    /// Who reads each kind of command from other nodes (`onNodeCommand`).
    private let nodeCommandReaders = Mutex<[String: NodeCommandReader]>([:])
    private let connections = Mutex<[String: Int]>([:])
    /// Open connections per app and protocol, for each protocol's daily peak in usage.
    private let protocolConnections = Mutex<[String: [String: Int]]>([:])

    /// Creates a bus over `engine` and attaches itself as the engine's handler.
    public init(
        engine: any Engine,
        apps: AppRegistry,
        limiter: RateLimiter = RateLimiter(),
        limits: LiveLimits = LiveLimits(),
        pacer: PublishPacer? = nil
    ) {
        self.hub = Hub()
        self.pacer = pacer
        self.engine = engine
        self.apps = apps
        self.limiter = limiter
        self.limits = limits
        engine.attach(self)
    }

    /// Fans a message from the engine out to local subscribers.
    public func handle(_ message: BusMessage) {
        let byProtocol = self.hub.broadcastByProtocol(message)
        let delivered = byProtocol.values.reduce(0, +)
        self.stats.countDelivered(delivered)
        self.usage.countDelivered(app: message.app, byProtocol: byProtocol, now: WallClock.milliseconds())
        // Once per message, not per subscriber: metrics time the fan-out from here.
        if case .publication(let publication) = message { self.observers.notify { $0.fannedOut(publication, subscribers: delivered) } }
    }

    public func localLoad() -> [String: NodeLoad] {
        var loads: [String: NodeLoad] = [:]
        for (app, channels) in self.hub.occupancy() { loads[app, default: NodeLoad()].channels = channels }
        for (app, count) in self.connections.withLock({ $0 }) { loads[app, default: NodeLoad()].connections = count }
        return loads
    }

    public func otherNodesReported(_ loads: [String: NodeLoad]) {
        let before = self.elsewhere.withLock { elsewhere in
            defer { elsewhere = loads }
            return elsewhere
        }
        guard !self.observers.isEmpty else { return }
        for app in Set(before.keys).union(loads.keys) where self.apps.app(id: app)?.subscriptionCount == true {
            let old = before[app]?.channels ?? [:]
            let new = loads[app]?.channels ?? [:]
            guard old != new else { continue }
            for channel in Set(old.keys).union(new.keys) where old[channel] != new[channel] {
                let here = self.hub.count(app: app, channel: channel)
                guard here > 0 else { continue }
                let count = here + new[channel, default: 0]
                self.observers.notify { $0.subscriptionCountChangedElsewhere(app: app, channel: channel, count: count) }
            }
        }
    }

    /// Other nodes' loads are read for apps whose plan limits connections or channels, and for those that tell
    /// subscribers their channel's count.
    public func wantsOtherNodesLoad(app: String) -> Bool {
        guard let app = self.apps.app(id: app) else { return false }
        return app.plan.maxConnections != nil || app.plan.maxChannels != nil || app.subscriptionCount
    }

    // MARK: Commands between nodes

    /// Runs `reader` for each command of `kind` another node sends, on the engine's thread: it should hop elsewhere
    /// for anything longer than a lookup. One reader per kind; a later one replaces it.
    public func onNodeCommand(kind: String, _ reader: @escaping @Sendable (ByteBuffer) -> Void) {
        self.nodeCommandReaders.withLock { $0[kind] = NodeCommandReader(read: reader) }
    }

    /// Has every other node carry out a command of `kind` (this node's caller does so itself); throws
    /// `EngineUnavailable` when the engine cannot reach them.
    public func sendToOtherNodes(kind: String, body: ByteBuffer) async throws {
        try await self.engine.sendToOtherNodes(NodeCommand(kind: kind, body: body))
    }

    public func handle(_ command: NodeCommand) {
        self.nodeCommandReaders.withLock { $0[command.kind] }?.read(command.body)
    }

    // MARK: Connections

    /// Admits a new connection to `app` within its plan; returns its id.
    ///
    /// - Parameter via: the connection's protocol (`FrameEncoder.protocolName`), for usage's peak by protocol; pass the
    ///   same to `disconnect`.
    public func connect(app: App, via: String? = nil) throws(BusError) -> ConnectionID {
        // Other nodes' connections as they last reported them (within the engine's report interval).
        let elsewhere = app.plan.maxConnections == nil ? 0 : self.elsewhere.withLock { $0[app.id]?.connections ?? 0 }
        let admitted = self.connections.withLock { counts -> Int? in
            let current = counts[app.id, default: 0]
            if let max = app.plan.maxConnections, current + elsewhere >= max { return nil }
            counts[app.id] = current + 1
            return current + 1
        }
        guard let open = admitted else { throw .connectionLimit(app.plan.maxConnections ?? 0) }
        let ofProtocol = via.map { via in self.protocolConnections.withLock { counts in Self.adjust(&counts, app: app.id, via: via, by: 1) } }
        self.usage.noteConnections(app: app.id, connections: open, via: via, protocolConnections: ofProtocol ?? 0, now: WallClock.milliseconds())
        return self.makeConnectionID()
    }

    /// A connection id for a stream that does not count against connection limits.
    public func makeConnectionID() -> ConnectionID {
        ConnectionID(self.nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue)
    }

    /// Releases a connection admitted by `connect` (with the protocol it was admitted with).
    public func disconnect(app: String, via: String? = nil) {
        self.connections.withLock { counts in
            let left = counts[app, default: 1] - 1
            counts[app] = left > 0 ? left : nil
        }
        if let via { self.protocolConnections.withLock { counts in _ = Self.adjust(&counts, app: app, via: via, by: -1) } }
    }

    /// Adds `change` to the open connections of `app` over `via` (dropping zeros); returns the new count.
    private static func adjust(_ counts: inout [String: [String: Int]], app: String, via: String, by change: Int) -> Int {
        let count = max(0, counts[app]?[via] ?? 0) + change
        var ofApp = counts[app] ?? [:]
        ofApp[via] = count > 0 ? count : nil
        counts[app] = ofApp.isEmpty ? nil : ofApp
        return max(0, count)
    }

    /// Open connections of `app` on this node.
    public func connectionCount(app: String) -> Int { self.connections.withLock { $0[app, default: 0] } }

    // MARK: Subscriptions

    /// Subscribes `subscriber` to `channel`; returns false when it already was.
    @discardableResult
    public func subscribe(_ subscriber: any Subscriber, app: App, channel: String) async throws -> Bool {
        guard ChannelName.isValid(channel) else { throw BusError.invalidChannel }
        let (first, added) = self.hub.add(subscriber, app: app.id, channel: channel)
        guard first else {
            if added { self.notifyCount(app: app.id, channel: channel, cause: subscriber.connectionID) }
            return added
        }
        do {
            try self.holdChannel(app: app, channel: channel)
        } catch {
            self.hub.remove(subscriber.connectionID, app: app.id, channel: channel)
            throw error
        }
        try await self.engine.subscribe(app: app.id, channel: channel)
        self.observers.notify { $0.channelOccupied(app: app.id, channel: channel) }
        self.notifyCount(app: app.id, channel: channel, cause: subscriber.connectionID)
        return true
    }

    /// Counts `channel` against `app`'s plan until `releaseChannel`; throws when it is a new channel past the limit.
    ///
    /// Subscriptions hold their channel; adapters hold one for a presence join on a channel the connection does not
    /// subscribe to, so presence alone cannot open more channels than the plan allows. Reserved `#` channels are not
    /// counted: only the server opens them (a signed-in user's channel, the online status its watchlist names), a
    /// bounded number per connection, and a full plan would otherwise silently cut signed-in users off from them.
    public func holdChannel(app: App, channel: String) throws(BusError) {
        guard ChannelAccess.namespace(of: channel) == nil else { return }
        // Channels other nodes have subscribers of count once, whether or not this node opens them too.
        let elsewhere = app.plan.maxChannels == nil ? [:] : self.elsewhere.withLock { $0[app.id]?.channels ?? [:] }
        // Counted in place: a copy of the app's channels per subscription would cost their number.
        let admitted = self.heldChannels.withLock { held -> Bool in
            if held[app.id]?[channel] == nil, elsewhere[channel] == nil, let max = app.plan.maxChannels {
                let here = held[app.id] ?? [:]
                let onlyElsewhere = elsewhere.keys.count { here[$0] == nil && ChannelAccess.namespace(of: $0) == nil }
                if here.count + onlyElsewhere >= max { return false }
            }
            held[app.id, default: [:]][channel, default: 0] += 1
            return true
        }
        guard admitted else { throw .channelLimit(app.plan.maxChannels ?? 0) }
    }

    /// Gives back a hold taken by `holdChannel`.
    public func releaseChannel(app: String, channel: String) {
        self.heldChannels.withLock { held in
            guard let count = held[app]?[channel] else { return }
            held[app]?[channel] = count > 1 ? count - 1 : nil
            if held[app]?.isEmpty == true { held[app] = nil }
        }
    }

    /// Unsubscribes a connection from `channel`; returns false when it was not subscribed.
    @discardableResult
    public func unsubscribe(_ connection: ConnectionID, app: String, channel: String) async -> Bool {
        let (last, removed) = self.hub.remove(connection, app: app, channel: channel)
        if last {
            self.releaseChannel(app: app, channel: channel)
            try? await self.engine.unsubscribe(app: app, channel: channel)
            self.observers.notify { $0.channelVacated(app: app, channel: channel) }
        } else if removed {
            self.notifyCount(app: app, channel: channel, cause: connection)
        }
        return removed
    }

    private func notifyCount(app: String, channel: String, cause: ConnectionID) {
        guard !self.observers.isEmpty else { return }
        let count = self.subscriberCount(app: app, channel: channel)
        guard count > 0 else { return }
        self.observers.notify { $0.subscriptionCountChanged(app: app, channel: channel, count: count, cause: cause) }
    }

    /// Subscribers of a channel occupied here, on every node: other nodes' as of their last report (none with a
    /// single-node engine); zero when nobody subscribes here. What `subscription_count` tells subscribers.
    public func subscriberCount(app: String, channel: String) -> Int {
        let here = self.hub.count(app: app, channel: channel)
        guard here > 0 else { return 0 }
        return here + self.elsewhere.withLock { $0[app]?.channels[channel] ?? 0 }
    }

    /// Channels of `app` with local subscribers, and how many each has.
    public func channels(app: String) -> [String: Int] { self.hub.channels(app: app) }

    /// Subscribers per occupied channel of `app` on every node (this node's alone with the memory engine).
    ///
    /// Other nodes' counts are as fresh as their last report to the engine (about a second with Redis).
    public func clusterChannels(app: String) async throws -> [String: Int] {
        try await self.engine.channels(app: app, local: self.hub.channels(app: app))
    }

    /// The occupied channels of `app` that clients opened, on every node, with their subscribers: what every
    /// protocol's server API lists. Reserved `#` channels are the server's own bookkeeping (a signed-in user's channel,
    /// a watched user's online status) and stay out, as they stay out of the plan's channel count.
    public func openedChannels(app: String) async throws -> [String: Int] {
        try await self.clusterChannels(app: app).filter { ChannelAccess.namespace(of: $0.key) == nil }
    }

    /// Subscribers of one channel on nodes other than this one (none with a single-node engine).
    public func otherNodesCount(app: String, channel: String) async throws -> Int {
        try await self.engine.channels(app: app, local: [:])[channel, default: 0]
    }

    /// Subscribers of one channel on every node.
    public func clusterCount(app: String, channel: String) async throws -> Int {
        try await self.clusterChannels(app: app)[channel, default: 0]
    }

    // MARK: Publishing

    /// Checks `size` and the month's messages against the app's plan and takes `messages` publishes from its rate, all
    /// or none: one call publishing to several channels costs a publish per channel, as on Pusher.
    public func admitPublish(app: App, size: Int, messages: Int = 1) throws(BusError) {
        guard size <= app.plan.maxMessageBytes else { throw .messageTooLarge(limit: app.plan.maxMessageBytes) }
        guard self.usage.admit(app: app.id, limit: app.plan.monthlyMessages, messages: messages, now: WallClock.milliseconds()) else {
            throw .monthlyQuota(limit: app.plan.monthlyMessages ?? 0)
        }
        guard self.limiter.allow(app.id, perMinute: app.plan.publishesPerMinute, cost: messages) else { throw .rateLimited }
    }

    /// Publishes within the app's limits; returns the publication with its position when the channel keeps history.
    public func publish(_ publication: Publication, app: App, options: PublishOptions = PublishOptions()) async throws -> Publication {
        guard ChannelName.isValid(publication.channel) else { throw BusError.invalidChannel }
        guard publication.event.map(EventName.isValid) ?? true else { throw BusError.invalidEventName }
        try self.admitPublish(app: app, size: publication.data.readableBytes)
        return try await self.publishAdmitted(publication, app: app, options: options)
    }

    /// Publishes a message whose limits were already checked (one admission covering several channels).
    public func publishAdmitted(_ publication: Publication, app: App, options: PublishOptions = PublishOptions()) async throws -> Publication {
        let kit = app.rule(for: publication.channel)?.kit
        if let kit { try await self.admitKit(publication, kit: kit, app: app, byServer: options.byServer) }
        let policy = app.policy(for: publication.channel)
        let kept = options.kept && kit?.keeps(publication) != false
        let history = kept && policy.history.size > 0 ? policy.history : nil
        var stamped = publication
        stamped.publishedAt = ContinuousClock.now
        let published: Publication
        if let idempotencyKey = options.idempotencyKey {
            let outcome = try await self.engine.publish(stamped, history: history, idempotencyKey: idempotencyKey)
            // A retry the channel already carried: nothing went out, so nothing is counted or told to observers.
            guard !outcome.isDuplicate else { return outcome.publication }
            published = outcome.publication
        } else {
            published = try await self.engine.publish(stamped, history: history)
        }
        self.stats.countPublished()
        self.usage.countPublished(app: app.id, via: options.via, now: WallClock.milliseconds())
        self.observers.notify { $0.published(published) }
        await self.pacer?.pace()
        return published
    }

    /// Kept messages of a channel after `offset` (or the newest `limit` when nil), oldest first.
    public func history(app: App, channel: String, after offset: UInt64?, limit: Int?) async throws -> HistoryPage {
        let policy = app.policy(for: channel)
        guard policy.history.size > 0 else { return HistoryPage(publications: [], latest: nil, truncated: false) }
        return try await self.engine.history(app: app.id, channel: channel, after: offset, limit: limit, policy: policy.history)
    }

    /// The newest kept messages of a channel after `offset` that fit `count` messages and `bytes` of data, oldest first,
    /// and where its stream stands (`Engine.replay`).
    public func replay(app: App, channel: String, after offset: UInt64, count: Int, bytes: Int) async throws -> HistoryPage {
        let policy = app.policy(for: channel)
        guard policy.history.size > 0 else { return HistoryPage(publications: [], latest: nil, truncated: false) }
        return try await self.engine.replay(app: app.id, channel: channel, after: offset, count: count, bytes: bytes, policy: policy.history)
    }

    /// Kept messages of a channel after `offset` and where its stream stands, starting the stream when none exists.
    ///
    /// A positioned subscribe reads this way, so the epoch it hands out names the run its offsets belong to; `latest`
    /// is nil only when the channel keeps no history. `limit` 0 reads only where the stream stands.
    public func historyStartingStream(app: App, channel: String, after offset: UInt64, limit: Int? = nil) async throws -> HistoryPage {
        let policy = app.policy(for: channel)
        guard policy.history.size > 0 else { return HistoryPage(publications: [], latest: nil, truncated: false) }
        return try await self.engine.historyStartingStream(app: app.id, channel: channel, after: offset, limit: limit, policy: policy.history)
    }

    // MARK: Presence

    /// Joins a member and announces it to the channel when that changes the set.
    ///
    /// Every protocol's joins pass here, so the member cap and the metadata bound hold for all of them. `excluding`
    /// names a connection the change is not announced to (it becomes the change's `cause`), whatever the engine's timing.
    public func presenceJoin(
        app: App,
        channel: String,
        userID: String,
        metadata: ByteBuffer,
        holder: PresenceHolder,
        excluding: ConnectionID? = nil
    ) async throws
        -> PresenceChange?
    {
        guard ChannelName.isValid(channel) else { throw BusError.invalidChannel }
        guard app.policy(for: channel).presence else { throw BusError.presenceNotAllowed }
        let limit = self.maxPresenceMetadataBytes
        guard metadata.readableBytes <= limit else { throw BusError.metadataTooLarge(limit: limit) }
        // Kept as long as the member is: its own bytes, not the frame it came in (1 KB of metadata held a 1 MB frame).
        var change = try await self.engine.presence.join(
            app: app.id,
            channel: channel,
            userID: userID,
            metadata: metadata.owned(),
            holder: holder,
            maxMembers: app.maxPresenceMembers,
            now: WallClock.milliseconds()
        )
        change?.cause = excluding
        return try await self.announce(change)
    }

    /// Replaces a member's metadata and announces it.
    public func presenceUpdate(app: App, channel: String, userID: String, metadata: ByteBuffer) async throws -> PresenceChange? {
        let limit = self.maxPresenceMetadataBytes
        guard metadata.readableBytes <= limit else { throw BusError.metadataTooLarge(limit: limit) }
        let change = try await self.engine.presence.update(
            app: app.id,
            channel: channel,
            userID: userID,
            metadata: metadata.owned(),
            now: WallClock.milliseconds()
        )
        return try await self.announce(change)
    }

    /// Removes `holder` from a member and announces the leave when it was the last (to client-keyed protocols, any
    /// connection's).
    public func presenceLeave(app: String, channel: String, userID: String, holder: PresenceHolder) async throws -> PresenceChange? {
        let change = try await self.engine.presence.leave(
            app: app,
            channel: channel,
            userID: userID,
            holder: holder,
            now: WallClock.milliseconds()
        )
        return try await self.announce(change)
    }

    /// Tells the channel's subscribers and the observers about a presence change, when there is one. Observers (webhooks,
    /// kits) hear of members only, not of a member's further connections, and neither does the caller: it learns
    /// whether the member set changed.
    @discardableResult
    private func announce(_ change: PresenceChange?) async throws -> PresenceChange? {
        guard let change else { return nil }
        try await self.engine.publish(change)
        guard change.kind.changesMember else { return nil }
        self.observers.notify { $0.presenceChanged(change) }
        return change
    }

    /// The channel's members.
    public func members(app: String, channel: String) async throws -> [PresenceMember] {
        // A server-side join not heard from within the timeout is gone, though the sweep has not announced it yet.
        let cutoff = WallClock.milliseconds() - self.presenceTimeoutMilliseconds
        return try await self.engine.presence.members(app: app, channel: channel).filter { $0.lastSeen >= cutoff }
    }

    /// Expires silent server-side presence joins and trims history; the janitor calls it periodically.
    public func sweep(now: Int64) async throws {
        for change in try await self.engine.presence.expire(now: now, maxAge: self.presenceTimeoutMilliseconds) {
            try await self.announce(change)
        }
        try await self.engine.sweep(now: now)
    }
}

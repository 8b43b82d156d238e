import AsyncHTTPClient
import Foundation
public import Logging
public import NIOCore
import NIOHTTP1
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// Delivers Pusher webhooks: batched per app, signed, retried with backoff, never in the bus's way.
///
/// Events are queued in a bounded buffer per app by the bus's observer hooks (which only take a lock and append);
/// one worker per app posts `{"time_ms", "events": [...]}` with `X-Pusher-Key` and `X-Pusher-Signature`
/// (HMAC-SHA256 hex of the body with the app secret) and retries failures with exponential backoff for up to five
/// minutes, as Pusher does. A slow or dead endpoint only fills its own app's buffer: past `maxBufferedPerApp` (or
/// `maxBuffered` for all apps together) that app's new events are dropped, counted and logged.
///
/// ```swift
/// let webhooks = PusherWebhooks(apps: bus.apps, logger: logger)
/// bus.observers.register(webhooks, name: "pusher.webhooks")
/// app.addServices(webhooks)
/// ```
public final class PusherWebhooks: Service, ChannelObserver {
    /// Batching, buffering and retry settings.
    public struct Configuration: Sendable {
        /// How long a worker waits for more events before posting its first batch (default 100 ms).
        public var batchDelay: Duration = .milliseconds(100)
        /// The most events in one request (default 100).
        public var maxBatch = 100
        /// The most events waiting across all apps (default 100,000).
        public var maxBuffered = 100_000
        /// The most events one app may have waiting (default 10,000), so an app whose endpoint is down cannot take
        /// the buffer from the others.
        public var maxBufferedPerApp = 10_000
        /// How long a batch is retried before it is dropped (default 5 minutes, as Pusher retries).
        public var retryFor: Duration = .seconds(300)
        /// The wait after the first failure, doubled after each (default 500 ms).
        public var initialBackoff: Duration = .milliseconds(500)
        /// The longest wait between attempts (default 30 s).
        public var maxBackoff: Duration = .seconds(30)
        /// How long a `member_removed` is held back (default 3 s, as Pusher does): a user who comes back within it is
        /// neither removed nor added again, so a page reload makes no webhooks.
        public var memberRemovedDelay: Duration = .seconds(3)
        /// How long one request may take, in seconds (default 5).
        public var timeoutSeconds: Int64 = 5
        /// On shutdown, how long deliveries in flight may go on before they are cancelled (default 2 s).
        public var shutdownGrace: Duration = .seconds(2)

        /// The defaults above.
        public init() {}
    }

    /// Delivery counters, for status pages and tests.
    public struct Counters: Sendable, Equatable {
        /// Events the endpoint accepted.
        public var delivered = 0
        /// Events dropped after their last attempt failed.
        public var failed = 0
        /// Events dropped because the buffer was full.
        public var dropped = 0
    }

    struct State {
        var pending: [String: [PusherWebhookEvent]] = [:]
        var buffered = 0
        /// Apps dropping events since their buffer filled: logged once when it starts, not once per event.
        var dropping: Set<String> = []
        /// Members whose `member_removed` is held back, and when it is due.
        var leaving: [Member: ContinuousClock.Instant] = [:]
        var busy: Set<String> = []
        var stopping = false
        var counters = Counters()
    }

    /// One user of one presence channel.
    struct Member: Hashable {
        var app: String
        var channel: String
        var user: String
    }

    let apps: AppRegistry
    let configuration: Configuration
    let logger: Logger
    /// Subscribers of a channel on other nodes, when the bus spans several; nil on a single node.
    let otherNodes: (@Sendable (_ app: String, _ channel: String) async -> Int)?
    private let state = Mutex(State())
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    /// Creates the service for the apps in `apps` (each app's `webhooks` settings are read at send time).
    ///
    /// With `otherNodes` (several nodes share the bus), `channel_occupied` and `channel_vacated` are sent only when no
    /// other node has subscribers of the channel, so the app hears of the cluster's first and last subscriber, once.
    public init(
        apps: AppRegistry,
        configuration: Configuration = Configuration(),
        otherNodes: (@Sendable (_ app: String, _ channel: String) async -> Int)? = nil,
        logger: Logger
    ) {
        self.apps = apps
        self.configuration = configuration
        self.otherNodes = otherNodes
        self.logger = logger
        (self.signals, self.signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Delivery counters so far.
    public var counters: Counters { self.state.withLock { $0.counters } }

    /// Queues `event` for `app` when the app wants that kind; returns false when it was not queued.
    @discardableResult
    public func enqueue(_ event: PusherWebhookEvent, app: App) -> Bool {
        guard let settings = app.webhooks, settings.wants(event.name) else { return false }
        let (queued, wake, startedDropping) = self.state.withLock { state -> (Bool, Bool, Bool) in
            guard !state.stopping else { return (false, false, false) }
            let waiting = state.pending[app.id]?.count ?? 0
            guard state.buffered < self.configuration.maxBuffered, waiting < self.configuration.maxBufferedPerApp else {
                state.counters.dropped += 1
                return (false, false, state.dropping.insert(app.id).inserted)
            }
            state.dropping.remove(app.id)
            state.pending[app.id, default: []].append(event)
            state.buffered += 1
            return (true, !state.busy.contains(app.id), false)
        }
        if wake { self.signal.yield() }
        if startedDropping {
            self.logger.warning("webhook buffer full: dropping this app's events until its endpoint catches up", metadata: ["app": "\(app.id)"])
        }
        return queued
    }

    func enqueue(_ event: PusherWebhookEvent, appID: String) {
        guard let app = self.apps.app(id: appID), app.webhooks != nil else { return }
        self.enqueue(event, app: app)
    }

    // MARK: ChannelObserver

    public func channelOccupied(app: String, channel: String) {
        guard !PusherChannel.isServerFeature(channel) else { return }
        self.enqueue(.channelOccupied(channel), appID: app)
    }

    public func channelVacated(app: String, channel: String) {
        guard !PusherChannel.isServerFeature(channel) else { return }
        self.enqueue(.channelVacated(channel), appID: app)
    }

    public func presenceChanged(_ change: PresenceChange) {
        guard PusherChannel.isPresence(change.channel) else { return }
        let member = Member(app: change.app, channel: change.channel, user: change.member.userID)
        switch change.kind {
        case .join:
            // Back within the delay: the held `member_removed` and this `member_added` cancel out.
            guard self.state.withLock({ $0.leaving.removeValue(forKey: member) }) == nil else { return }
            self.enqueue(.memberAdded(change.channel, userID: change.member.userID), appID: change.app)
        case .leave:
            guard self.configuration.memberRemovedDelay > .zero,
                let app = self.apps.app(id: change.app), app.webhooks?.wants("member_removed") == true
            else { return self.enqueue(.memberRemoved(change.channel, userID: change.member.userID), appID: change.app) }
            let due = ContinuousClock.now + self.configuration.memberRemovedDelay
            let held = self.state.withLock { state -> Bool in
                guard state.leaving.count < self.configuration.maxBufferedPerApp else { return false }
                state.leaving[member] = due
                return true
            }
            if !held { self.enqueue(.memberRemoved(change.channel, userID: change.member.userID), app: app) }
        case .update, .connectionJoin, .connectionLeave: break
        }
    }

    /// Queues the held `member_removed` events that are due (all of them with `all`, at shutdown).
    func releaseLeavers(all: Bool = false) {
        let now = ContinuousClock.now
        let due = self.state.withLock { state -> [Member] in
            let due = state.leaving.filter { all || $0.value <= now }.map(\.key)
            for member in due { state.leaving[member] = nil }
            return due
        }
        for member in due { self.enqueue(.memberRemoved(member.channel, userID: member.user), appID: member.app) }
    }

    public func subscriptionCountChanged(app: String, channel: String, count: Int, cause: ConnectionID?) {
        guard !PusherChannel.isPresence(channel), !PusherChannel.isServerFeature(channel) else { return }
        self.enqueue(.subscriptionCount(channel, count: count), appID: app)
    }

    // MARK: Service

    public func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled, !self.state.withLock({ $0.stopping }) {
                    try? await Task.sleep(for: .milliseconds(100))
                    self.releaseLeavers()
                }
            }
            await withGracefulShutdownHandler {
                for await _ in self.signals {
                    for appID in self.claimIdleApps() {
                        group.addTask { await self.work(appID: appID, client: client) }
                    }
                }
            } onGracefulShutdown: {
                // Members held back are gone for good now: their removals go out with the last batches.
                self.releaseLeavers(all: true)
                self.state.withLock { $0.stopping = true }
                self.signal.finish()
            }
            self.state.withLock { $0.stopping = true }
            // Nothing new is queued; workers make one last attempt at what they hold, within the grace.
            let deadline = ContinuousClock.now + self.configuration.shutdownGrace
            while !self.state.withLock({ $0.busy.isEmpty }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
        try? await client.shutdown()
    }

    func claimIdleApps() -> [String] {
        self.state.withLock { state in
            let ready = state.pending.keys.filter { !state.busy.contains($0) }
            state.busy.formUnion(ready)
            return Array(ready)
        }
    }

    /// Takes the next batch of `appID`, or marks the app idle when it has none (in one step, so no event is stranded).
    func takeBatch(appID: String) -> [PusherWebhookEvent]? {
        self.state.withLock { state in
            guard var events = state.pending[appID], !events.isEmpty else {
                state.pending[appID] = nil
                state.busy.remove(appID)
                return nil
            }
            let batch = Array(events.prefix(self.configuration.maxBatch))
            events.removeFirst(batch.count)
            state.pending[appID] = events.isEmpty ? nil : events
            state.buffered -= batch.count
            return batch
        }
    }

    func work(appID: String, client: HTTPClient) async {
        if !self.state.withLock({ $0.stopping }) { try? await Task.sleep(for: self.configuration.batchDelay) }
        while let batch = self.takeBatch(appID: appID) {
            let events = await self.clusterWide(batch, appID: appID)
            if !events.isEmpty { await self.deliver(events, appID: appID, client: client) }
        }
    }

    /// Drops the occupied and vacated events of channels that other nodes still have subscribers of: for the cluster
    /// the channel was neither empty before nor empty now. Checked after the batch delay, which gives other nodes'
    /// reports time to arrive.
    func clusterWide(_ batch: [PusherWebhookEvent], appID: String) async -> [PusherWebhookEvent] {
        guard let otherNodes = self.otherNodes else { return batch }
        var kept: [PusherWebhookEvent] = []
        for event in batch {
            if event.name == "channel_occupied" || event.name == "channel_vacated", await otherNodes(appID, event.channel) > 0 { continue }
            kept.append(event)
        }
        return kept
    }

    /// The request body: `{"time_ms":…,"events":[…]}`.
    public static func body(_ events: [PusherWebhookEvent], timeMilliseconds: Int64) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 32 + events.reduce(0) { $0 + $1.json.readableBytes + 1 })
        buffer.writeString("{\"time_ms\":\(timeMilliseconds),\"events\":[")
        for (index, event) in events.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            var json = event.json
            buffer.writeBuffer(&json)
        }
        buffer.writeStaticString("]}")
        return buffer
    }

    /// The waits before each retry of a failed batch: doubling from `initialBackoff` up to `maxBackoff`, for as many
    /// attempts as fit in `retryFor`.
    static func retryWaits(_ configuration: Configuration) -> [Duration] {
        var waits: [Duration] = []
        var total = Duration.zero
        var backoff = configuration.initialBackoff
        while backoff > .zero, total + backoff <= configuration.retryFor {
            waits.append(backoff)
            total += backoff
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
        return waits
    }

    func deliver(_ batch: [PusherWebhookEvent], appID: String, client: HTTPClient) async {
        var waits = Self.retryWaits(self.configuration)[...]
        var attempt = 0
        // `time_ms` says when the batch was made, so a receiver can tell a late retry (the libraries check it).
        let created = WallClock.milliseconds()
        while true {
            attempt += 1
            // Read the app each time: a batch for an app whose webhooks were removed is dropped.
            guard let app = self.apps.app(id: appID), let settings = app.webhooks else { return }
            let body = Self.body(batch, timeMilliseconds: created)
            var request = HTTPClientRequest(url: settings.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Pusher-Key", value: app.key)
            request.headers.add(name: "X-Pusher-Signature", value: PusherSignature.hmacHex(secret: app.signingSecret, bytes: body))
            request.body = .bytes(body)
            do {
                let response = try await client.execute(request, timeout: .seconds(self.configuration.timeoutSeconds))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) {
                    self.state.withLock { $0.counters.delivered += batch.count }
                    return
                }
                self.logger.notice("webhook refused", metadata: ["app": "\(appID)", "status": "\(response.status.code)", "attempt": "\(attempt)"])
            } catch {
                self.logger.notice("webhook failed", metadata: ["app": "\(appID)", "error": "\(error)", "attempt": "\(attempt)"])
            }
            guard let wait = waits.popFirst(), !self.state.withLock({ $0.stopping }) else { break }
            try? await Task.sleep(for: wait)
        }
        self.state.withLock { $0.counters.failed += batch.count }
        self.logger.warning("webhook batch dropped", metadata: ["app": "\(appID)", "events": "\(batch.count)"])
    }
}

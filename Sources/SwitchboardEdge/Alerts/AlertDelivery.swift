import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import Pusher
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Posts alert notifications to their rules' webhooks: signed like the Pusher webhooks, in order per rule, retried
/// with exponential backoff, from a bounded queue.
///
/// `enqueue` only takes a lock and appends. One worker per rule with pending notifications posts them one at a time,
/// so a rule's `resolved` never overtakes its `firing`. Each request carries `X-Pusher-Key` (the rule's name) and
/// `X-Pusher-Signature` (HMAC-SHA256 hex of the body with the rule's secret). Past `maxQueued` waiting notifications
/// new ones are dropped and counted; a dead endpoint costs at most `maxAttempts` tries per notification.
final class AlertDelivery: Service {
    /// Queue and retry settings.
    struct Configuration: Sendable {
        /// Notifications waiting across all rules (default 1,000).
        var maxQueued = 1_000
        /// Tries per notification (default 5).
        var maxAttempts = 5
        /// The wait after the first failure, doubled after each (default 500 ms).
        var initialBackoff: Duration = .milliseconds(500)
        /// The longest wait between tries (default 30 s).
        var maxBackoff: Duration = .seconds(30)
        /// How long one request may take, in seconds (default 5).
        var timeoutSeconds: Int64 = 5
        /// How many finished deliveries the console can see (default 50).
        var keptRecords = 50
    }

    /// A finished delivery, newest first in `recent`.
    struct Record: Sendable {
        var rule: String
        var subject: String
        var state: AlertEpisodes.Transition.State
        var time: Int64
        var delivered: Bool
        var attempts: Int
        /// The last HTTP status, or nil when the last try got no answer.
        var status: Int?
    }

    struct State {
        var pending: [String: [AlertNotification]] = [:]
        var queued = 0
        var busy: Set<String> = []
        var stopping = false
        var dropped = 0
        var recent: [Record] = []
    }

    let configuration: Configuration
    let logger: Logger
    private let state = Mutex(State())
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    init(configuration: Configuration = Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (self.signals, self.signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Finished deliveries, newest first.
    var recent: [Record] { self.state.withLock { $0.recent } }
    /// Notifications dropped because the queue was full.
    var dropped: Int { self.state.withLock { $0.dropped } }

    /// Queues `notification`; false when the queue is full or the edge is stopping.
    @discardableResult
    func enqueue(_ notification: AlertNotification) -> Bool {
        let (queued, wake) = self.state.withLock { state -> (Bool, Bool) in
            guard !state.stopping else { return (false, false) }
            guard state.queued < self.configuration.maxQueued else {
                state.dropped += 1
                return (false, false)
            }
            state.pending[notification.rule.name, default: []].append(notification)
            state.queued += 1
            return (true, !state.busy.contains(notification.rule.name))
        }
        if wake { self.signal.yield() }
        if !queued { self.logger.warning("alert notification dropped: queue full", metadata: ["rule": "\(notification.rule.name)"]) }
        return queued
    }

    func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await _ in self.signals {
                    for rule in self.claimIdleRules() {
                        group.addTask { await self.work(rule: rule, client: client) }
                    }
                }
            } onGracefulShutdown: {
                self.state.withLock { $0.stopping = true }
                self.signal.finish()
            }
            // Tries in flight stop at their next wait; what is still queued is dropped with the process.
            group.cancelAll()
        }
        try? await client.shutdown()
    }

    func claimIdleRules() -> [String] {
        self.state.withLock { state in
            let ready = state.pending.keys.filter { !state.busy.contains($0) }
            state.busy.formUnion(ready)
            return Array(ready)
        }
    }

    /// The next notification of `rule`, or nil after marking the rule idle (in one step, so nothing is stranded).
    func next(rule: String) -> AlertNotification? {
        self.state.withLock { state in
            guard var queue = state.pending[rule], !queue.isEmpty, !state.stopping else {
                state.pending[rule] = nil
                state.busy.remove(rule)
                return nil
            }
            let first = queue.removeFirst()
            state.pending[rule] = queue.isEmpty ? nil : queue
            state.queued -= 1
            return first
        }
    }

    func work(rule: String, client: HTTPClient) async {
        while let notification = self.next(rule: rule) {
            await self.deliver(notification, client: client)
        }
    }

    func deliver(_ notification: AlertNotification, client: HTTPClient) async {
        var backoff = self.configuration.initialBackoff
        var attempt = 0
        var status: Int?
        var delivered = false
        while !Task.isCancelled {
            attempt += 1
            let body = notification.body(timeMilliseconds: WallClock.milliseconds())
            var request = HTTPClientRequest(url: notification.rule.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Pusher-Key", value: notification.rule.name)
            request.headers.add(name: "X-Pusher-Signature", value: PusherSignature.hmacHex(secret: notification.rule.secret, bytes: body))
            request.body = .bytes(body)
            status = nil
            do {
                let response = try await client.execute(request, timeout: .seconds(self.configuration.timeoutSeconds))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                status = Int(response.status.code)
                if (200..<300).contains(response.status.code) {
                    delivered = true
                    break
                }
                self.logger.notice(
                    "alert webhook refused",
                    metadata: ["rule": "\(notification.rule.name)", "status": "\(response.status.code)", "attempt": "\(attempt)"]
                )
            } catch {
                self.logger.notice(
                    "alert webhook failed",
                    metadata: ["rule": "\(notification.rule.name)", "error": "\(error)", "attempt": "\(attempt)"]
                )
            }
            if attempt >= self.configuration.maxAttempts { break }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, self.configuration.maxBackoff)
        }
        if !delivered {
            self.logger.warning("alert notification dropped after its last attempt", metadata: ["rule": "\(notification.rule.name)"])
        }
        let record = Record(
            rule: notification.rule.name,
            subject: notification.transition.subject,
            state: notification.transition.state,
            time: WallClock.milliseconds(),
            delivered: delivered,
            attempts: attempt,
            status: status
        )
        self.state.withLock { state in
            state.recent.insert(record, at: 0)
            if state.recent.count > self.configuration.keptRecords { state.recent.removeLast() }
        }
    }
}

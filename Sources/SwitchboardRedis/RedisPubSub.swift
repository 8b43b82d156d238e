public import Logging
public import NIOCore
public import NIOPosix
import Synchronization

/// A dedicated subscriber connection: the topics this node wants, kept subscribed across reconnects.
///
/// `subscribe` and `unsubscribe` change the wanted set and, while connected, send the command at once, under
/// the same lock as the set, so commands reach Redis in the order the set changed. After a reconnect every
/// wanted topic is subscribed again before anything else is sent. Messages published while the connection was
/// down are lost to this node: clients catch up from history (their offset and epoch tell them what they missed).
public final class RedisPubSub: Sendable {
    private struct State {
        /// Topic → how many `subscribe` calls it has without a matching `unsubscribe`.
        var topics: [String: Int] = [:]
        var channel: (any Channel)?
    }

    /// The wanted topics and the live channel, shared with the connection's callbacks.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared: Shared
    private let connection: RedisConnection

    /// Creates the subscriber; `onMessage(topic, payload)` runs on the connection's event loop, in arrival order.
    public init(
        configuration: RedisConnection.Configuration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "switchboard.redis.pubsub"),
        onMessage: @escaping @Sendable (ByteBuffer, ByteBuffer) -> Void
    ) {
        var configuration = configuration
        configuration.clientName += "-pubsub"
        let shared = Shared()
        self.shared = shared
        self.connection = RedisConnection(
            configuration: configuration,
            group: group,
            logger: logger,
            subscriber: true,
            onPush: { value in
                // ["message", topic, payload]; ["pmessage", pattern, topic, payload] is not used.
                guard let parts = value.elements, parts.count == 3, parts[0].string?.lowercased() == "message",
                    let topic = parts[1].bytes, let payload = parts[2].bytes
                else { return }
                onMessage(topic, payload)
            },
            onReady: { channel in
                shared.state.withLock { state in
                    state.channel = channel
                    for topic in state.topics.keys { _ = RedisConnection.send(RedisCommand("SUBSCRIBE", topic), on: channel) }
                }
            },
            onDown: { shared.state.withLock { $0.channel = nil } }
        )
    }

    /// Keeps the subscriber connection up until the task is cancelled.
    public func run() async { await self.connection.run() }

    /// Where the subscriber connection stands.
    public var status: RedisConnection.Status { self.connection.status }

    /// True while Redis does not answer the subscriber connection's commands in time.
    public var isStalled: Bool { self.connection.isStalled }

    /// Waits until connected, at most `timeout`.
    public func waitUntilReady(timeout: Duration) async -> Bool { await self.connection.waitUntilReady(timeout: timeout) }

    /// The topics this node wants.
    public var topics: Set<String> { self.shared.state.withLock { Set($0.topics.keys) } }

    /// Wants `topic`; returns once Redis confirmed it (or at once while disconnected: it is subscribed on reconnect).
    ///
    /// Calls are counted, so a late `unsubscribe` racing a new `subscribe` of the same topic leaves it subscribed.
    public func subscribe(_ topic: String) async {
        let confirmation = self.shared.state.withLock { state -> EventLoopFuture<RESPValue>? in
            state.topics[topic, default: 0] += 1
            guard state.topics[topic] == 1, let channel = state.channel else { return nil }
            return RedisConnection.send(RedisCommand("SUBSCRIBE", topic), on: channel)
        }
        // A failure means the connection dropped: the topic stays wanted and is subscribed again on reconnect.
        _ = try? await confirmation?.get()
    }

    /// Drops one `subscribe` of `topic`; the last one unsubscribes.
    public func unsubscribe(_ topic: String) async {
        let confirmation = self.shared.state.withLock { state -> EventLoopFuture<RESPValue>? in
            guard let count = state.topics[topic] else { return nil }
            guard count <= 1 else {
                state.topics[topic] = count - 1
                return nil
            }
            state.topics[topic] = nil
            guard let channel = state.channel else { return nil }
            return RedisConnection.send(RedisCommand("UNSUBSCRIBE", topic), on: channel)
        }
        _ = try? await confirmation?.get()
    }
}

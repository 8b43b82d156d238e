import NIOCore
import Synchronization

/// Control-plane notices between the nodes of a cluster: documents kept in one Redis hash, and a pub/sub topic that
/// names the field that changed, so every node re-reads it at once (and reads the whole hash at start and after a
/// reconnect, for notices it missed).
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:control` | pub/sub channel | the name of the field that changed |
/// | `P:control:documents` | hash | field (e.g. `live:<app>`) → document |
public final class RedisControlNotices: Sendable {
    /// The handler in a struct, not as the `Mutex`'s value itself: each read would wrap a bare function in two more
    /// conversion thunks (see `RedisCommandTimer`).
    private struct Handler: Sendable {
        let call: @Sendable (String) -> Void
    }

    private let handler = Mutex<Handler?>(nil)
    /// The pub/sub topic.
    public let topic: String
    /// The hash of documents.
    public let hash: String

    init(prefix: String) {
        self.topic = "\(prefix):control"
        self.hash = "\(prefix):control:documents"
    }

    /// Whether `topic` is the control topic (the subscriber hands such messages here instead of to the bus).
    func claims(_ topic: ByteBuffer) -> Bool { topic.readableBytesView.elementsEqual(self.topic.utf8) }

    func receive(_ payload: ByteBuffer) {
        let field = String(buffer: payload)
        self.handler.withLock { $0 }?.call(field)
    }

    func listen(_ handler: @escaping @Sendable (String) -> Void) { self.handler.withLock { $0 = Handler(call: handler) } }

    /// HDEL KEYS[1] ARGV[1] when the field still holds ARGV[2].
    static let removeIfUnchanged = RedisScript(
        """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
        return 0
        """
    )
}

extension RedisEngine {
    /// Calls `handler` with the field named by each control notice (on the subscriber's event loop: keep it short),
    /// and subscribes to the control topic (kept across reconnects).
    public func listenForControlNotices(_ handler: @escaping @Sendable (String) -> Void) async {
        self.control.listen(handler)
        await self.pubsub.subscribe(self.control.topic)
    }

    /// Stores `document` under `field` and tells every node (this one too) that it changed.
    public func shareControlDocument(_ document: String, field: String) async throws {
        try await Self.mapped {
            _ = try await self.commands.send(RedisCommand("HSET", self.control.hash, field, document))
            _ = try await self.commands.send(RedisCommand("PUBLISH", self.control.topic, field))
        }
    }

    /// The document stored under `field`, if any.
    public func controlDocument(field: String) async throws -> String? {
        try await Self.mapped { try await self.commands.send(RedisCommand("HGET", self.control.hash, field)).string }
    }

    /// Deletes `field` if it still holds `document`, so a document written meanwhile under the same field stays;
    /// returns whether it was deleted. For documents every node can tell are spent (an expired block).
    @discardableResult
    public func removeControlDocument(field: String, ifStill document: String) async throws -> Bool {
        let reply = try await Self.mapped {
            try await self.commands.run(
                RedisControlNotices.removeIfUnchanged,
                keys: [self.control.hash],
                arguments: [ByteBuffer(string: field), ByteBuffer(string: document)]
            )
        }
        return reply.int == 1
    }

    /// Every stored document, by field.
    public func controlDocuments() async throws -> [String: String] {
        let reply = try await Self.mapped { try await self.commands.send(RedisCommand("HGETALL", self.control.hash)) }
        var documents: [String: String] = [:]
        if case .map(let pairs) = reply {
            for pair in pairs { if let field = pair.key.string, let value = pair.value.string { documents[field] = value } }
        } else if let items = reply.elements {
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                if let field = items[index].string, let value = items[index + 1].string { documents[field] = value }
            }
        }
        return documents
    }
}

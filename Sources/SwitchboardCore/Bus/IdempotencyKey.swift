/// A publisher's name for one publish (Centrifugo's `idempotency_key`), so a retry is not published twice.
///
/// It acts per channel: a publish whose channel saw the same key within `windowMilliseconds` is dropped (nothing
/// delivered or kept) and answered with the first publish's position. Engines hold it, so it holds across nodes.
///
/// ```swift
/// guard let key = IdempotencyKey("order-42-paid") else { throw /* over `maxBytes` */ }
/// let first = try await bus.publish(publication, app: app, options: PublishOptions(idempotencyKey: key))
/// ```
public struct IdempotencyKey: Sendable, Hashable {
    /// The longest key accepted, in UTF-8 bytes: each one is kept for its window, so its size is bounded.
    public static let maxBytes = 256
    /// How long a key is remembered by default: 5 minutes, Centrifugo's idempotent result window.
    public static let defaultWindowMilliseconds: Int64 = 300_000

    /// The key as the publisher sent it.
    public let value: String
    /// How long the channel remembers it, in milliseconds.
    public let windowMilliseconds: Int64

    /// A key; nil when `value` is empty or longer than `maxBytes`.
    public init?(_ value: String, windowMilliseconds: Int64 = IdempotencyKey.defaultWindowMilliseconds) {
        guard !value.isEmpty, value.utf8.count <= Self.maxBytes else { return nil }
        self.value = value
        self.windowMilliseconds = max(1, windowMilliseconds)
    }
}

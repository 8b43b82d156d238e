/// How a publish is carried, beyond its message and app: who carried it, whether it is kept, and its retry key.
public struct PublishOptions: Sendable {
    /// The protocol that carried it, for usage counts: `rest` for the server APIs, else the WebSocket's.
    public var via: String
    /// False delivers the message without keeping it, whatever the channel's policy (Centrifugo's `skip_history`).
    public var kept: Bool
    /// A retry of a publish the channel carried under this key within its window is not published again; the first
    /// one's position comes back. Still admitted (rate, size) as any request is.
    public var idempotencyKey: IdempotencyKey?

    /// Options for a publish carried `via` a protocol.
    public init(via: String = "rest", kept: Bool = true, idempotencyKey: IdempotencyKey? = nil) {
        self.via = via
        self.kept = kept
        self.idempotencyKey = idempotencyKey
    }

    /// Carried by a server API, with the app's secret (`via` "rest"), rather than by a client.
    public var byServer: Bool { self.via == "rest" }

    /// A publish from a client of the WebSocket protocol `name`, kept by the channel's policy.
    public static func via(_ name: String) -> PublishOptions { PublishOptions(via: name) }
}

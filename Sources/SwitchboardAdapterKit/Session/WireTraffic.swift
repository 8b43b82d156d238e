import Synchronization

/// Bytes the edge wrote to clients (WebSocket frames and SSE events), for `/metrics`: one relaxed atomic add per write.
public enum WireTraffic {
    static let bytesOut = Atomic<Int>(0)

    /// Counts `count` bytes written.
    public static func wrote(_ count: Int) { Self.bytesOut.add(count, ordering: .relaxed) }

    /// Bytes written since start.
    public static var bytesOutTotal: Int { Self.bytesOut.load(ordering: .relaxed) }
}

/// What one node holds of an app: its open connections and its subscribers per channel.
///
/// Each node reports its own through the engine and hears the others', so a plan's `max_connections` and
/// `max_channels` hold across a cluster rather than on each node.
public struct NodeLoad: Sendable, Equatable {
    /// Open connections of the app.
    public var connections: Int
    /// Subscribers per channel of the app.
    public var channels: [String: Int]

    /// A load of `connections` and `channels`.
    public init(connections: Int = 0, channels: [String: Int] = [:]) {
        self.connections = connections
        self.channels = channels
    }
}

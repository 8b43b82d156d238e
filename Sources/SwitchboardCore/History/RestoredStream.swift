/// One channel's stream as a journal saved it: what the memory engine starts from after a restart.
///
/// Carrying the epoch and the last offset (even with no message left) lets a client that reconnects
/// with its position recover instead of being told the stream was reset.
public struct RestoredStream: Sendable {
    /// The app the channel belongs to.
    public var app: String
    /// The channel name.
    public var channel: String
    /// The kept messages with the stream's epoch and last offset.
    public var history: ChannelHistory
    /// The bounds the channel's messages were kept under.
    public var policy: HistoryPolicy
    /// Milliseconds timestamp of the stream's last publish (how long it has been idle).
    public var lastPublish: Int64

    /// Creates a restored stream.
    public init(app: String, channel: String, history: ChannelHistory, policy: HistoryPolicy, lastPublish: Int64) {
        self.app = app
        self.channel = channel
        self.history = history
        self.policy = policy
        self.lastPublish = lastPublish
    }
}

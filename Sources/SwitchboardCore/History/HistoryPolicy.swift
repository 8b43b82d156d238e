/// How much of a channel's stream to keep: the newest `size` messages, none older than `ttl`.
public struct HistoryPolicy: Sendable, Equatable {
    /// The most messages kept.
    public var size: Int
    /// How long a message is kept, in milliseconds.
    public var ttlMilliseconds: Int64

    /// Creates a policy.
    public init(size: Int, ttlMilliseconds: Int64) {
        self.size = size
        self.ttlMilliseconds = ttlMilliseconds
    }
}

/// A slice of a channel's history, oldest first, with where the stream stands now.
public struct HistoryPage: Sendable {
    /// The messages, oldest first.
    public var publications: [Publication]
    /// The newest position of the stream, or nil when the channel keeps no history.
    public var latest: StreamPosition?
    /// True when messages after the requested offset were already dropped (a gap the client cannot fill).
    public var truncated: Bool

    /// Creates a page.
    public init(publications: [Publication], latest: StreamPosition?, truncated: Bool) {
        self.publications = publications
        self.latest = latest
        self.truncated = truncated
    }
}

import SwitchboardCore

/// One change to durable history, in the order the engine made it: a kept message or a dropped stream.
enum HistoryChange: Sendable {
    /// A message kept with its position, under the channel's bounds.
    case kept(Publication, HistoryPolicy)
    /// The channel's stream was dropped; a later message starts a new epoch.
    case dropped(HistoryStreamKey)
    /// The stream's messages up to this position were let go (the engine's memory budget).
    case evicted(HistoryStreamKey, StreamPosition)
}

/// Names one channel's stream in the store.
struct HistoryStreamKey: Hashable, Sendable {
    var app: String
    var channel: String
}

/// The newest message of a stream the journal could not write (its buffer was full, or a write failed).
struct LostHistory: Sendable {
    var position: StreamPosition
    var policy: HistoryPolicy
    var time: Int64
}

/// Where the memory engine hands the messages it keeps, so a store can make them outlive the process.
///
/// The engine calls it under the channel's lock, in offset order, on the publish path: an implementation
/// only buffers (one append), and writes elsewhere. The bus itself knows nothing of any store.
public protocol HistoryJournal: Sendable {
    /// `publication` was kept with its position under `policy`.
    func kept(_ publication: Publication, policy: HistoryPolicy)
    /// The channel's stream was dropped (history removed, or idle and empty): the next publish starts a new epoch.
    func dropped(app: String, channel: String)
    /// The channel's messages up to `position` were let go to keep the engine within its memory budget.
    func evicted(app: String, channel: String, through position: StreamPosition)
}

/// The journal of an engine whose history lives and dies with the process.
public struct NoHistoryJournal: HistoryJournal {
    /// Creates the journal that keeps nothing.
    public init() {}

    public func kept(_ publication: Publication, policy: HistoryPolicy) {}

    public func dropped(app: String, channel: String) {}

    public func evicted(app: String, channel: String, through position: StreamPosition) {}
}

/// How far the transports' writes lag behind the broadcasts that queued them.
///
/// A publisher is answered only while the lag is short (`PublishPacer`): one that outruns the sockets is slowed down,
/// instead of every subscriber's latency growing with a backlog.
public protocol WriteBacklog: Sendable {
    /// The age of the oldest frame queued for a writer that has not yet written it; zero when every writer is idle.
    func lag() -> Duration
}

/// How far the transports' writes lag behind the broadcasts that queued them.
///
/// A publisher is answered only while the lag is short (`PublishPacer`): one that outruns the sockets is slowed down,
/// instead of every subscriber's latency growing with a backlog.
public protocol WriteBacklog: Sendable {
    /// The age of the oldest frame queued for a writer that has not yet written it; zero when every writer is idle.
    func lag() -> Duration

    /// How long one batch of writes has lately taken on the slowest writer: a fan-out's own length, which no pacing
    /// shortens. Zero when unknown.
    func passTime() -> Duration

    /// Calls `body` once, when the lag may have fallen (a writer finished a batch), so held publishes are looked at
    /// when something changed instead of on a clock.
    func whenLagMayFall(_ body: @escaping @Sendable () -> Void)
}

extension WriteBacklog {
    public func passTime() -> Duration { .zero }

    /// A backlog that cannot tell when its lag falls is read again after a millisecond.
    public func whenLagMayFall(_ body: @escaping @Sendable () -> Void) {
        Task {
            try? await Task.sleep(for: .milliseconds(1))
            body()
        }
    }
}

import Synchronization

/// Hears how long each command on a connection waited for its reply (for metrics); nothing is measured until
/// someone observes.
public final class RedisCommandTimer: Sendable {
    private let observer = Mutex<(@Sendable (Duration) -> Void)?>(nil)

    /// Creates a timer nobody observes.
    public init() {}

    /// Calls `body` with each command's round trip from now on (replacing an earlier observer); it must return at once.
    public func observe(_ body: @escaping @Sendable (Duration) -> Void) { self.observer.withLock { $0 = body } }

    /// Reports one command's round trip.
    func record(_ duration: Duration) { self.observer.withLock { $0 }?(duration) }
}

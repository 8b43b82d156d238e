import Synchronization

/// Hears how long each command on a connection waited for its reply (for metrics); nothing is measured until
/// someone observes.
public final class RedisCommandTimer: Sendable {
    /// The observer in a struct: a function kept directly as a `Mutex`'s value comes back from each `withLock` wrapped in
    /// two more conversion thunks, so every command would cost more than the one before (and the chain overflow the stack).
    private struct Observer: Sendable {
        let call: @Sendable (Duration) -> Void
    }

    private let observer = Mutex<Observer?>(nil)

    /// Creates a timer nobody observes.
    public init() {}

    /// Calls `body` with each command's round trip from now on (replacing an earlier observer); it must return at once.
    public func observe(_ body: @escaping @Sendable (Duration) -> Void) { self.observer.withLock { $0 = Observer(call: body) } }

    /// Reports one command's round trip.
    func record(_ duration: Duration) { self.observer.withLock { $0 }?.call(duration) }
}

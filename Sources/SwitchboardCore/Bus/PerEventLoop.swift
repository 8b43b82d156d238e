public import NIOCore
import Synchronization

/// One value per event loop, made on first use and kept for good: event loops live as long as the process.
public final class PerEventLoop<Value: Sendable>: Sendable {
    private let values = Mutex<[ObjectIdentifier: Value]>([:])
    private let make: @Sendable (any EventLoop) -> Value

    public init(_ make: @escaping @Sendable (any EventLoop) -> Value) { self.make = make }

    /// `loop`'s value, the same for every caller.
    public func callAsFunction(_ loop: any EventLoop) -> Value {
        self.values.withLock { values in
            let key = ObjectIdentifier(loop)
            if let value = values[key] { return value }
            let value = self.make(loop)
            values[key] = value
            return value
        }
    }

    /// Folds every loop's value in place, under the lock (so `next` must not take it again).
    public func reduce<Result: Sendable>(_ initial: Result, _ next: (Result, Value) -> Result) -> Result {
        self.values.withLock { $0.values.reduce(initial, next) }
    }
}

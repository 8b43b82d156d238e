import Synchronization

/// One setting a SIGHUP reload may replace while the edge runs, such as an address list or the admin token.
///
/// Its readers keep the holder, not a copy, and read `current` where they use it, so a reload reaches them all at once.
///
/// ```swift
/// let token = LiveSetting<String?>("first-token")
/// token.replace("second-token")   // true: the next request is checked against it
/// ```
public final class LiveSetting<Value: Sendable & Equatable>: Sendable {
    private let value: Mutex<Value>

    /// A setting starting at `value`.
    public init(_ value: Value) {
        self.value = Mutex(value)
    }

    /// The value in force now.
    public var current: Value { self.value.withLock { $0 } }

    /// Puts `value` in force; returns whether it changed.
    @discardableResult
    public func replace(_ value: Value) -> Bool {
        self.value.withLock { current in
            guard current != value else { return false }
            current = value
            return true
        }
    }
}

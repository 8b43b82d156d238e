/// A fixed-capacity queue that overwrites its oldest element when full: O(1) per append, whatever the load.
///
/// Security events are kept this way (the newest win) in memory and on their way to the store.
public struct BoundedRing<Element> {
    /// The most elements held.
    public let capacity: Int
    private var storage: [Element?]
    private var start = 0
    /// Elements held now.
    public private(set) var count = 0

    /// An empty ring holding at most `capacity` elements (at least one).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.storage = []
    }

    /// Appends `element`; returns the oldest element when it had to make room for it.
    @discardableResult
    public mutating func append(_ element: Element) -> Element? {
        if self.storage.count < self.capacity {
            // Grows up to capacity as events come, so an idle ring costs nothing; `start` is 0 until it is full.
            self.storage.append(element)
            self.count += 1
            return nil
        }
        let evicted = self.storage[self.start]
        self.storage[self.start] = element
        self.start = (self.start + 1) % self.capacity
        return evicted
    }

    /// The elements, oldest first.
    public var oldestFirst: [Element] {
        (0..<self.count).map { self.storage[(self.start + $0) % self.storage.count]! }
    }

    /// The elements newest first, lazily (for a query that stops after a few).
    public var newestFirst: some Sequence<Element> {
        (0..<self.count).lazy.map { self.storage[(self.start + self.count - 1 - $0) % self.storage.count]! }
    }

    /// Takes every element, oldest first, and leaves the ring empty (its storage kept for reuse).
    public mutating func removeAll() -> [Element] {
        let elements = self.oldestFirst
        self.storage.removeAll(keepingCapacity: true)
        self.start = 0
        self.count = 0
        return elements
    }
}

extension BoundedRing: Sendable where Element: Sendable {}

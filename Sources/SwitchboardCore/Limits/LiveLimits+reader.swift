import Synchronization

extension LiveLimits {
    /// A reader of one value for a path that runs on every publish: one atomic load while no reload changed the
    /// limits, and the values read again (under their lock) only after one did.
    public func reader(_ value: @escaping @Sendable (Values) -> Int) -> @Sendable () -> Int {
        let (values, generation) = self.snapshot
        let cache = LiveValueCache(value: value(values), generation: generation)
        return {
            if self.generation == cache.generation.load(ordering: .acquiring) { return cache.value.load(ordering: .relaxed) }
            let (values, generation) = self.snapshot
            let current = value(values)
            cache.value.store(current, ordering: .relaxed)
            cache.generation.store(generation, ordering: .releasing)
            return current
        }
    }
}

/// The last value a `LiveLimits.reader` read, and the generation it belongs to.
private final class LiveValueCache: Sendable {
    let value: Atomic<Int>
    let generation: Atomic<UInt64>

    init(value: Int, generation: UInt64) {
        self.value = Atomic(value)
        self.generation = Atomic(generation)
    }
}

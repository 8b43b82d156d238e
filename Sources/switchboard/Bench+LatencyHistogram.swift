extension Bench {
    /// Durations in microseconds, in log-linear buckets (32 per power of two, so within about 3 %), HDR-style.
    ///
    /// Fixed size and no allocation when recording, so the receive path can afford one sample per delivery;
    /// histograms of several event loops merge by adding counts.
    struct LatencyHistogram: Sendable {
        /// Values below this are exact (one bucket each); above it each power of two has `subBuckets` buckets.
        static let linearLimit: UInt64 = 64
        static let subBuckets: UInt64 = 32
        /// About 12 days in microseconds: anything longer lands in the last bucket.
        static let largest: UInt64 = (1 << 40) - 1
        static let bucketCount = Self.index(of: Self.largest) + 1

        private(set) var counts: [UInt64]
        private(set) var count: UInt64 = 0
        private(set) var maximum: UInt64 = 0

        init() { self.counts = Array(repeating: 0, count: Self.bucketCount) }

        /// Records one duration given in nanoseconds.
        mutating func record(nanoseconds: UInt64) {
            let micros = min(nanoseconds / 1000, Self.largest)
            self.counts[Self.index(of: micros)] &+= 1
            self.count &+= 1
            if micros > self.maximum { self.maximum = micros }
        }

        /// Adds another histogram's samples to this one.
        mutating func merge(_ other: LatencyHistogram) {
            for index in other.counts.indices where other.counts[index] != 0 { self.counts[index] &+= other.counts[index] }
            self.count &+= other.count
            self.maximum = max(self.maximum, other.maximum)
        }

        /// The value at quantile `q` (0...1) in microseconds: the top of its bucket, never above the largest sample.
        func value(atQuantile q: Double) -> UInt64 {
            guard self.count > 0 else { return 0 }
            let rank = max(1, UInt64((q * Double(self.count)).rounded(.up)))
            var seen: UInt64 = 0
            for index in self.counts.indices {
                seen &+= self.counts[index]
                if seen >= rank { return min(Self.upperBound(ofBucket: index), self.maximum) }
            }
            return self.maximum
        }

        static func index(of micros: UInt64) -> Int {
            guard micros >= Self.linearLimit else { return Int(micros) }
            let highestBit = UInt64(63 - micros.leadingZeroBitCount)
            let shift = highestBit - 5
            let top = micros >> shift
            return Int(Self.linearLimit + (shift - 1) * Self.subBuckets + (top - Self.subBuckets))
        }

        static func upperBound(ofBucket index: Int) -> UInt64 {
            let index = UInt64(index)
            guard index >= Self.linearLimit else { return index }
            let shift = (index - Self.linearLimit) / Self.subBuckets + 1
            let top = (index - Self.linearLimit) % Self.subBuckets + Self.subBuckets
            return ((top + 1) << shift) - 1
        }
    }
}

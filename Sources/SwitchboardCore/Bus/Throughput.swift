import Synchronization

/// Messages in and deliveries out per second over the last few seconds, from samples of `BusStats`' totals.
///
/// The janitor samples every few seconds and the status page reads; a rate is the change of a total between the
/// oldest sample of the window and now, so it needs no timer of its own and costs nothing on the publish path.
public final class Throughput: Sendable {
    struct Sample {
        var time: Int64
        var published: Int
        var delivered: Int
    }

    /// Messages accepted and frames delivered per second.
    public struct Rates: Sendable, Equatable {
        public var messagesIn: Double
        public var messagesOut: Double

        /// Creates rates.
        public init(messagesIn: Double, messagesOut: Double) {
            self.messagesIn = messagesIn
            self.messagesOut = messagesOut
        }
    }

    /// How far back rates look, in milliseconds.
    public let windowMilliseconds: Int64
    private let samples = Mutex<[Sample]>([])

    /// Creates an empty meter; rates are zero until a sample is older than now.
    public init(windowMilliseconds: Int64 = 10_000) {
        self.windowMilliseconds = windowMilliseconds
    }

    /// Records the current totals at `now` (ms) and forgets samples no longer needed for the window.
    public func sample(_ stats: BusStats, now: Int64) {
        let sample = Sample(time: now, published: stats.publishedTotal, delivered: stats.deliveredTotal)
        self.samples.withLock { samples in
            samples.append(sample)
            // Keep the newest sample at or before the window's start, so the window is always covered.
            while samples.count > 1, samples[1].time <= now - self.windowMilliseconds { samples.removeFirst() }
        }
    }

    /// Rates from the oldest kept sample to the totals at `now`.
    public func rates(_ stats: BusStats, now: Int64) -> Rates {
        guard let oldest = self.samples.withLock({ $0.first }), now > oldest.time else { return Rates(messagesIn: 0, messagesOut: 0) }
        let seconds = Double(now - oldest.time) / 1000
        return Rates(
            messagesIn: Double(stats.publishedTotal - oldest.published) / seconds,
            messagesOut: Double(stats.deliveredTotal - oldest.delivered) / seconds
        )
    }
}

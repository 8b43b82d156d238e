extension Bench {
    /// When one publishing lane sends its next message.
    ///
    /// Lane `k` of `n` owns messages `k, k+n, k+2n, …`; at `--rate R` message `i` is due at `start + i/R`. A lane that
    /// falls behind sends as soon as its previous publish is answered, so it never bursts to catch up.
    /// `--rate 0` sends back to back. It stops at the deadline or after its share of `--messages`.
    struct PublishSchedule: Sendable {
        /// What to do now.
        enum Step: Equatable {
            /// Publish message `index` (its number across all lanes).
            case send(index: Int)
            /// Nothing is due before this monotonic time.
            case wait(until: UInt64)
            case finished
        }

        let lane: Int
        let lanes: Int
        /// Messages per second across all lanes; 0 is as fast as the server answers.
        let rate: Int
        let start: UInt64
        let deadline: UInt64?
        /// This lane's share of `--messages`.
        let limit: Int?
        private(set) var sent = 0

        init(lane: Int, lanes: Int, rate: Int, start: UInt64, deadline: UInt64?, messages: Int?) {
            self.lane = lane
            self.lanes = lanes
            self.rate = rate
            self.start = start
            self.deadline = deadline
            self.limit = messages.map { $0 / lanes + (lane < $0 % lanes ? 1 : 0) }
        }

        /// The next message's number across lanes.
        var nextIndex: Int { self.lane + self.sent * self.lanes }

        func step(now: UInt64) -> Step {
            if let limit, self.sent >= limit { return .finished }
            if let deadline, now >= deadline { return .finished }
            guard self.rate > 0 else { return .send(index: self.nextIndex) }
            let due = self.start + UInt64(self.nextIndex) * 1_000_000_000 / UInt64(self.rate)
            if let deadline, due >= deadline { return .finished }
            return now >= due ? .send(index: self.nextIndex) : .wait(until: due)
        }

        mutating func markSent() { self.sent += 1 }
    }
}

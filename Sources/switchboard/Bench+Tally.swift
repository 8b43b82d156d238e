extension Bench {
    /// What the subscribers of one event loop received: kept per loop, so the receive path takes no lock.
    ///
    /// Each loop's tally lives in a `NIOLoopBoundBox`; the runner reads copies through `EventLoop.submit` and merges them.
    struct Tally: Sendable {
        /// Deliveries: frames that carried a publish timestamp.
        var received: UInt64 = 0
        /// Publish-to-receive time of every delivery.
        var latency = LatencyHistogram()
        /// Monotonic time of the last delivery, to compute the delivery rate.
        var lastReceive: UInt64 = 0
        /// Frames stamped before the run began, not counted as deliveries.
        var stale = 0
        /// Subscribers the server closed after they were ready (a slow-consumer disconnect, a crash).
        var disconnects = 0
        /// Error frames the server sent (`{"event":"error",...}`).
        var protocolErrors = 0
        /// The first thing that went wrong, for the report.
        var firstError: String?
        /// Bytes read off the subscribers' sockets.
        var wireBytes: UInt64 = 0
        /// Frames that came compressed (RSV1).
        var compressedFrames: UInt64 = 0
        /// Subscribers whose upgrade agreed to permessage-deflate.
        var compressedConnections = 0

        mutating func recordDelivery(sentAt: UInt64?, now: UInt64) {
            self.received += 1
            self.lastReceive = now
            if let sentAt, now >= sentAt { self.latency.record(nanoseconds: now - sentAt) }
        }

        mutating func merge(_ other: Tally) {
            self.received += other.received
            self.latency.merge(other.latency)
            self.lastReceive = max(self.lastReceive, other.lastReceive)
            self.stale += other.stale
            self.disconnects += other.disconnects
            self.protocolErrors += other.protocolErrors
            self.firstError = self.firstError ?? other.firstError
            self.wireBytes += other.wireBytes
            self.compressedFrames += other.compressedFrames
            self.compressedConnections += other.compressedConnections
        }

        mutating func note(error: String) {
            if self.firstError == nil { self.firstError = error }
        }
    }
}

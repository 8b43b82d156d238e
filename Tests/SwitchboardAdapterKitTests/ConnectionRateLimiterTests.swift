import Synchronization
import Testing

@testable import SwitchboardAdapterKit

@Suite struct ConnectionRateLimiterTests {
    /// A clock the test moves by hand.
    final class Clock: Sendable {
        let seconds = Mutex(100.0)
        func advance(_ by: Double) { self.seconds.withLock { $0 += by } }
        var now: Double { self.seconds.withLock { $0 } }
    }

    @Test func anAddressGetsItsRatePerSecondThenWaits() {
        let clock = Clock()
        let limiter = ConnectionRateLimiter(perSecond: 3, now: { clock.now })
        #expect((0..<3).allSatisfy { _ in limiter.allow("10.0.0.1") })
        #expect(!limiter.allow("10.0.0.1"))
        clock.advance(0.34)
        #expect(limiter.allow("10.0.0.1"))
        #expect(!limiter.allow("10.0.0.1"))
    }

    @Test func addressesHaveTheirOwnBuckets() {
        let clock = Clock()
        let limiter = ConnectionRateLimiter(perSecond: 1, now: { clock.now })
        #expect(limiter.allow("10.0.0.1"))
        #expect(!limiter.allow("10.0.0.1"))
        #expect(limiter.allow("10.0.0.2"))
    }

    @Test func anIPv6ClientHasOneBucketForItsWholeSlash64() {
        let clock = Clock()
        let limiter = ConnectionRateLimiter(perSecond: 2, now: { clock.now })
        #expect(limiter.allow("2001:db8:7:7::1") && limiter.allow("2001:db8:7:7::2"))
        #expect(!limiter.allow("2001:db8:7:7:1:2:3:4"))
        #expect(limiter.allow("2001:db8:7:8::1"))
    }

    @Test func zeroMeansUnlimited() {
        let limiter = ConnectionRateLimiter(perSecond: 0)
        #expect((0..<1000).allSatisfy { _ in limiter.allow("10.0.0.1") })
        #expect(limiter.trackedAddresses == 0)
    }

    @Test func theTableNeverHoldsMoreThanItsBound() {
        let clock = Clock()
        let limiter = ConnectionRateLimiter(perSecond: 5, maxAddresses: 100, now: { clock.now })
        for n in 0..<1000 {
            _ = limiter.allow("10.0.\(n / 256).\(n % 256)")
            if n % 50 == 0 { clock.advance(0.5) }
            #expect(limiter.trackedAddresses <= 100)
        }
    }

    @Test func idleAddressesAreDroppedFirstWhenTheTableIsFull() {
        let clock = Clock()
        let limiter = ConnectionRateLimiter(perSecond: 1, maxAddresses: 2, now: { clock.now })
        #expect(limiter.allow("busy"))
        clock.advance(2)
        #expect(limiter.allow("idle"))
        #expect(!limiter.allow("idle"))
        clock.advance(0.5)
        // "busy" has been idle for 2.5 s (a full bucket, as if unknown) and goes; "idle" keeps its empty bucket.
        #expect(limiter.allow("new"))
        #expect(limiter.trackedAddresses == 2)
        #expect(!limiter.allow("idle"))
    }
}

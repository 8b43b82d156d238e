import Synchronization
import Testing

@testable import SwitchboardEdge

@Suite struct AdminFailureLimiterTests {
    final class Clock: Sendable {
        let seconds = Mutex(1_000.0)
        func advance(_ by: Double) { self.seconds.withLock { $0 += by } }
        var now: @Sendable () -> Double { { self.seconds.withLock { $0 } } }
    }

    @Test func anAddressIsLockedOutAfterItsAllowanceOfFailures() {
        let clock = Clock()
        let limiter = AdminFailureLimiter(perMinute: 10, now: clock.now)
        for _ in 1...9 { #expect(limiter.recordFailure("10.0.0.1") == false) }
        #expect(limiter.isLocked("10.0.0.1") == false)
        #expect(limiter.recordFailure("10.0.0.1") == true)
        #expect(limiter.isLocked("10.0.0.1"))
        #expect(limiter.isLocked("10.0.0.2") == false)
    }

    @Test func theLockoutEndsAfterAMinuteWithAFreshAllowance() {
        let clock = Clock()
        let limiter = AdminFailureLimiter(perMinute: 3, now: clock.now)
        for _ in 1...3 { limiter.recordFailure("10.0.0.1") }
        clock.advance(59)
        #expect(limiter.isLocked("10.0.0.1"))
        clock.advance(2)
        #expect(limiter.isLocked("10.0.0.1") == false)
        #expect(limiter.recordFailure("10.0.0.1") == false)
        #expect(limiter.recordFailure("10.0.0.1") == false)
    }

    @Test func slowFailuresRefillAndNeverLockOut() {
        let clock = Clock()
        let limiter = AdminFailureLimiter(perMinute: 3, now: clock.now)
        for _ in 1...20 {
            #expect(limiter.recordFailure("10.0.0.1") == false)
            clock.advance(30)
        }
    }
}

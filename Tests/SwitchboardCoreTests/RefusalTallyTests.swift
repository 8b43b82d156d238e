import SwitchboardCore
import Testing

/// Holds the tally so `#expect`, which cannot mutate, can count.
private final class Tally {
    var tally: RefusalTally
    init(_ tally: RefusalTally) { self.tally = tally }
    func trips(_ address: String, at now: Double, _ limits: RefusalTally.Limits) -> Bool {
        self.tally.count(address, now: now, limits: limits)
    }
    var tracked: Int { self.tally.tracked }
    var uncounted: Int { self.tally.uncounted }
}

@Suite struct RefusalTallyTests {
    let limits = RefusalTally.Limits(refusals: 3, windowSeconds: 60)

    @Test func anAddressTripsOnItsNthRefusalWithinTheWindowAndThenStartsAgain() {
        let tally = Tally(RefusalTally())
        #expect(!tally.trips("203.0.113.7", at: 0, self.limits))
        #expect(!tally.trips("203.0.113.7", at: 30, self.limits))
        #expect(!tally.trips("192.0.2.1", at: 31, self.limits))
        #expect(tally.trips("203.0.113.7", at: 59.9, self.limits))
        #expect(tally.tracked == 1)
        #expect(!tally.trips("203.0.113.7", at: 60, self.limits))
    }

    @Test func refusalsSpreadWiderThanTheWindowNeverTrip() {
        let tally = Tally(RefusalTally())
        for second in stride(from: 0.0, to: 600, by: 30) {
            #expect(!tally.trips("203.0.113.7", at: second, self.limits))
        }
    }

    @Test func zeroRefusalsIsOffAndOneTripsAtOnce() {
        let tally = Tally(RefusalTally())
        #expect(!tally.trips("203.0.113.7", at: 0, .init(refusals: 0, windowSeconds: 60)))
        #expect(tally.tracked == 0)
        #expect(tally.trips("203.0.113.7", at: 0, .init(refusals: 1, windowSeconds: 60)))
        #expect(tally.tracked == 0)
    }

    @Test func aFullTallyForgetsEndedWindowsAtMostOnceASecondAndLeavesNewAddressesUncountedMeanwhile() {
        let tally = Tally(RefusalTally(maxTracked: 2))
        let limits = RefusalTally.Limits(refusals: 3, windowSeconds: 10)
        _ = tally.trips("a", at: 0, limits)
        _ = tally.trips("b", at: 5, limits)
        // Full, and both windows still open: the newcomer goes uncounted, the addresses followed keep counting.
        #expect(!tally.trips("c", at: 9.5, limits))
        #expect(tally.uncounted == 1 && tally.tracked == 2)
        #expect(!tally.trips("b", at: 9.6, limits))
        // "a"'s window has ended, but the last sweep was under a second ago.
        #expect(!tally.trips("c", at: 10.2, limits))
        #expect(tally.uncounted == 2)
        #expect(!tally.trips("c", at: 10.6, limits))
        #expect(tally.uncounted == 2 && tally.tracked == 2)
        #expect(!tally.trips("c", at: 11, limits))
        #expect(tally.trips("c", at: 12, limits))
        #expect(tally.trips("b", at: 12, limits))
    }
}

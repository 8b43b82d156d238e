import Testing

@testable import SwitchboardAdapterKit

@Suite struct ConnectionsByAddressTests {
    @Test func anAddressHoldsUpToItsLimitAndAClosedConnectionGivesItsPlaceBack() {
        let counts = ConnectionsByAddress()
        let held = (0..<3).compactMap { _ in counts.hold(ip: "203.0.113.7", limit: 3) }
        #expect(held.count == 3)
        #expect(counts.hold(ip: "203.0.113.7", limit: 3) == nil)
        // Another address is not affected.
        #expect(counts.hold(ip: "198.51.100.1", limit: 3) != nil)
        held[0].release()
        held[0].release()  // once only
        #expect(counts.count(ip: "203.0.113.7") == 2)
        #expect(counts.hold(ip: "203.0.113.7", limit: 3) != nil)
    }

    @Test func aHoldLetGoWithoutReleaseStillGivesItsPlaceBack() {
        let counts = ConnectionsByAddress()
        do {
            let hold = counts.hold(ip: "2001:db8::1", limit: 1)
            #expect(hold != nil && counts.count(ip: "2001:db8::1") == 1)
        }
        #expect(counts.count(ip: "2001:db8::1") == 0)
    }

    @Test func loopbackPeersAndAZeroLimitAreNotHeldBack() {
        let counts = ConnectionsByAddress()
        let local = (0..<5).compactMap { _ in counts.hold(ip: "127.0.0.1", limit: 1) } + (0..<5).compactMap { _ in counts.hold(ip: "::1", limit: 1) }
        #expect(local.count == 10 && counts.count(ip: "127.0.0.1") == 0)
        let unlimited = (0..<50).compactMap { _ in counts.hold(ip: "203.0.113.9", limit: 0) }
        #expect(unlimited.count == 50)
    }

    @Test func uncountedRangesReplaceLoopbackSoAnEmptyListCountsEveryAddress() throws {
        let everyone = ConnectionsByAddress(uncounted: AddressRanges())
        let local = everyone.hold(ip: "127.0.0.1", limit: 1)
        #expect(local != nil && everyone.hold(ip: "127.0.0.1", limit: 1) == nil)
        let office = ConnectionsByAddress(uncounted: try AddressRanges(["198.51.100.0/24"]))
        #expect((0..<5).compactMap { _ in office.hold(ip: "198.51.100.20", limit: 1) }.count == 5)
        let first = office.hold(ip: "127.0.0.1", limit: 1)
        #expect(first != nil && office.hold(ip: "127.0.0.1", limit: 1) == nil)
    }

    @Test func anIPv6ClientIsCountedByItsSlash64SoFreshAddressesInItDoNotEscapeTheLimit() {
        let counts = ConnectionsByAddress()
        let held = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"].compactMap { counts.hold(ip: $0, limit: 3) }
        #expect(held.count == 3 && counts.count(ip: "2001:db8:1:2::99") == 3)
        #expect(counts.hold(ip: "2001:db8:1:2:abcd::7", limit: 3) == nil)
        // The next /64, and IPv4 addresses, are others.
        #expect(counts.hold(ip: "2001:db8:1:3::1", limit: 3) != nil)
        #expect(counts.hold(ip: "192.0.2.1", limit: 3) != nil && counts.hold(ip: "192.0.2.2", limit: 3) != nil)
    }
}

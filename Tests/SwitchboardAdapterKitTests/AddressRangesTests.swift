import Testing

@testable import SwitchboardAdapterKit

@Suite struct AddressRangesTests {
    @Test func singleAddressesAndRangesAreBothMatchedInEitherFamily() throws {
        let ranges = try AddressRanges(["203.0.113.7", "198.51.100.0/24", "2001:db8::1", "2001:db8:1::/48", "192.0.2.9/32"])
        for inside in ["203.0.113.7", "::ffff:203.0.113.7", "198.51.100.200", "2001:db8::1", "2001:db8:1:ffff::1", "192.0.2.9"] {
            #expect(ranges.contains(text: inside), "\(inside)")
        }
        for outside in ["203.0.113.8", "198.51.101.1", "2001:db8::2", "2001:db8:2::1", "::203.0.113.7", "not an address", nil] {
            #expect(!ranges.contains(text: outside), "\(outside ?? "nil")")
        }
        #expect(ranges.networks.map(\.description) == ["203.0.113.7/32", "198.51.100.0/24", "2001:db8::1/128", "2001:db8:1::/48", "192.0.2.9/32"])
    }

    @Test func aRequestIsHeldByItsClientOrByTheTrustedProxyItCameThrough() throws {
        let ranges = try AddressRanges(["10.0.0.5", "203.0.113.0/24"])
        #expect(ranges.contains(client: "203.0.113.9", proxy: nil))
        #expect(ranges.contains(client: "198.51.100.7", proxy: "10.0.0.5"))
        #expect(!ranges.contains(client: "198.51.100.7", proxy: "10.0.0.6"))
        #expect(!ranges.contains(client: nil, proxy: nil))
    }

    @Test func aLongListOfBlockedAddressesStillAnswersForEachOfThem() throws {
        let addresses = (0..<10_000).map { "10.\($0 / 65_536).\($0 / 256 % 256).\($0 % 256)" }
        let ranges = try AddressRanges(addresses + ["172.16.0.0/12"])
        #expect(addresses.allSatisfy { ranges.contains(text: $0) })
        #expect(ranges.contains(text: "172.20.1.1") && !ranges.contains(text: "10.0.39.16"))
        #expect(AddressRanges(networks: ranges.networks) == ranges)
    }
}

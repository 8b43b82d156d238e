import NIOCore
import SwitchboardAdapterKit
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"), ("::1", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"), ("2001:DB8::1", "2001:db8::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::ffff:192.0.2.1", "192.0.2.1"), ("::", "::"), ("1::", "1::"), ("fe80::1:2:3:4:5", "fe80::1:2:3:4:5"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
    ])
    func addressesParseToOneCanonicalSpelling(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4:80", "[::1]", "::1%eth0",
        "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::", "g::1", "1:2:3:4:5:6:7", ":1::", "1.2.3.4::", "::1.2.3.4:5", "localhost",
        "0x7f.0.0.1", "127.1", "１.2.3.4",
    ])
    func malformedAddressesAreRefused(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func socketAddressesOfEitherFamilyAreRead() throws {
        #expect(IPAddress(try SocketAddress(ipAddress: "10.1.2.3", port: 80))?.description == "10.1.2.3")
        #expect(IPAddress(try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 80)) == IPAddress("10.1.2.3"))
        #expect(IPAddress(try SocketAddress(ipAddress: "2001:db8::7", port: 80))?.description == "2001:db8::7")
    }

    @Test func limitsCountAnIPv4AddressAsItselfAndAnIPv6AddressByItsSlash64() {
        #expect(IPAddress("192.0.2.7")?.limitKey == "192.0.2.7")
        #expect(IPAddress("::ffff:192.0.2.7")?.limitKey == "192.0.2.7")
        #expect(IPAddress("2001:db8:1:2:3:4:5:6")?.limitKey == "2001:db8:1:2::/64")
        #expect(IPAddress("2001:db8::1")?.limitKey == IPAddress("2001:db8::ffff")?.limitKey)
    }

    @Test func loopbackIsAllOf127Slash8AndColonColon1() {
        for text in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] { #expect(IPAddress(text)?.isLoopback == true, "\(text)") }
        for text in ["128.0.0.1", "10.0.0.1", "::", "::2", "0.0.0.0"] { #expect(IPAddress(text)?.isLoopback == false, "\(text)") }
    }
}

@Suite struct IPNetworkTests {
    @Test func rangesMatchTheirAddressesOnly() throws {
        let private10 = try #require(IPNetwork("10.0.0.0/8"))
        #expect(private10.contains(IPAddress("10.255.1.2")!))
        #expect(!private10.contains(IPAddress("11.0.0.1")!))
        #expect(private10.contains(IPAddress("::ffff:10.0.0.1")!))
        #expect(!private10.contains(IPAddress("::a00:1")!))
        let documentation = try #require(IPNetwork("2001:db8::/32"))
        #expect(documentation.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!documentation.contains(IPAddress("2001:db9::1")!))
        #expect(!documentation.contains(IPAddress("10.0.0.1")!))
    }

    @Test func aBareAddressIsARangeOfOne() throws {
        let one = try #require(IPNetwork("192.0.2.7"))
        #expect(one.prefixLength == 32)
        #expect(one.contains(IPAddress("192.0.2.7")!))
        #expect(!one.contains(IPAddress("192.0.2.8")!))
        #expect(IPNetwork("::1")?.prefixLength == 128)
    }

    @Test func zeroPrefixesMatchTheirWholeFamily() throws {
        let anyV4 = try #require(IPNetwork("0.0.0.0/0"))
        #expect(anyV4.contains(IPAddress("203.0.113.1")!))
        #expect(!anyV4.contains(IPAddress("2001:db8::1")!))
        let anyV6 = try #require(IPNetwork("::/0"))
        #expect(anyV6.contains(IPAddress("2001:db8::1")!))
    }

    @Test func prefixesCrossingTheSixtyFourBitBoundaryMatch() throws {
        let network = try #require(IPNetwork("2001:db8:0:0:8000::/65"))
        #expect(network.contains(IPAddress("2001:db8::8000:0:0:1")!))
        #expect(!network.contains(IPAddress("2001:db8::7fff:0:0:1")!))
    }

    @Test(arguments: ["10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0/8", "/8", "10.0.0.0/08a", "x/8"])
    func malformedRangesAreRefused(text: String) {
        #expect(IPNetwork(text) == nil)
    }
}

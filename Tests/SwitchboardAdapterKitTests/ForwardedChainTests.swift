import SwitchboardAdapterKit
import Testing

@Suite struct ForwardedChainTests {
    @Test func forwardedForListsAreReadOldestFirstAcrossHeaderLines() {
        let hops = ForwardedChain.forwardedFor(["203.0.113.9, 10.0.0.1", "10.0.0.2"])
        #expect(hops == [IPAddress("203.0.113.9"), IPAddress("10.0.0.1"), IPAddress("10.0.0.2")])
    }

    @Test func forwardedForEntriesMayCarryPortsAndBrackets() {
        let hops = ForwardedChain.forwardedFor(["192.0.2.1:4711, [2001:db8::1]:80, [2001:db8::2], 2001:db8::3"])
        #expect(hops == [IPAddress("192.0.2.1"), IPAddress("2001:db8::1"), IPAddress("2001:db8::2"), IPAddress("2001:db8::3")])
    }

    @Test func malformedForwardedForEntriesAreNilHops() {
        let hops = ForwardedChain.forwardedFor(["evil.example, , 1.2.3.4:99999, [::1, [1.2.3.4], 1.2.3.4:, unknown, 10.0.0.1"])
        #expect(hops.count == 8)
        #expect(hops.prefix(7).allSatisfy { $0 == nil })
        #expect(hops.last == IPAddress("10.0.0.1"))
    }

    @Test func forwardedElementsGiveTheirForParameter() {
        let hops = ForwardedChain.forwarded([
            #"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", for=unknown, by=10.0.0.1, for=_hidden"#
        ])
        #expect(hops == [IPAddress("192.0.2.60"), IPAddress("2001:db8:cafe::17"), nil, nil, nil])
    }

    @Test func quotedCommasAndSemicolonsDoNotSplitForwardedElements() {
        let hops = ForwardedChain.forwarded([#"for=192.0.2.1;ext="a,b;c", for="10.0.0.\"1\"", for=10.0.0.2"#])
        #expect(hops == [IPAddress("192.0.2.1"), nil, IPAddress("10.0.0.2")])
    }

    @Test func aRepeatedForInOneElementIsMalformed() {
        #expect(ForwardedChain.forwarded(["for=192.0.2.1;for=192.0.2.2"]) == [nil])
    }

    @Test func onlyTheRightmostHopsAreKept() {
        let long = (0..<100).map { "10.0.\($0 / 256).\($0 % 256)" }.joined(separator: ",")
        let hops = ForwardedChain.forwardedFor([long])
        #expect(hops.count == ForwardedChain.maxHops)
        #expect(hops.last == IPAddress("10.0.0.99"))
    }
}

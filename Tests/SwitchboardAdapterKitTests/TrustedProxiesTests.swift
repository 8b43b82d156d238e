import HTTPTypes
import NIOCore
import SwitchboardAdapterKit
import Testing

@Suite struct TrustedProxiesTests {
    let trusted = try! TrustedProxies(["127.0.0.1/32", "10.0.0.0/8", "::1/128"])

    func client(peer: String, _ headers: [(String, String)]) -> String? {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return self.trusted.client(peer: try! SocketAddress(ipAddress: peer, port: 5000), headers: fields)
    }

    @Test func anUntrustedPeerIsTheClientWhateverItsHeadersSay() {
        #expect(self.client(peer: "203.0.113.5", [("X-Forwarded-For", "198.51.100.1")]) == "203.0.113.5")
        #expect(self.client(peer: "203.0.113.5", [("Forwarded", "for=198.51.100.1")]) == "203.0.113.5")
    }

    @Test func noTrustedRangesMeansTheHeadersAreNeverRead() {
        let none = TrustedProxies()
        let fields: HTTPFields = [.xForwardedFor: "198.51.100.1"]
        #expect(none.client(peer: try! SocketAddress(ipAddress: "127.0.0.1", port: 1), headers: fields) == "127.0.0.1")
    }

    @Test func aTrustedPeerNamesTheRightmostUntrustedAddress() {
        #expect(self.client(peer: "10.0.0.1", [("X-Forwarded-For", "198.51.100.1")]) == "198.51.100.1")
        // The client prepended a spoofed address; the proxies appended what they saw.
        #expect(self.client(peer: "10.0.0.1", [("X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.0.0.9")]) == "198.51.100.1")
    }

    @Test func aTrustedPeerWithoutHeadersIsItselfTheClient() {
        #expect(self.client(peer: "10.0.0.1", []) == "10.0.0.1")
    }

    @Test func aChainOfOnlyTrustedProxiesNamesItsLeftmost() {
        #expect(self.client(peer: "10.0.0.1", [("X-Forwarded-For", "10.0.0.3, 10.0.0.2")]) == "10.0.0.3")
    }

    @Test func aMalformedHopStopsAtTheLastVouchedAddress() {
        #expect(self.client(peer: "10.0.0.1", [("X-Forwarded-For", "198.51.100.1, garbage")]) == "10.0.0.1")
        #expect(self.client(peer: "10.0.0.1", [("X-Forwarded-For", "garbage, 198.51.100.1")]) == "198.51.100.1")
        #expect(self.client(peer: "10.0.0.1", [("X-Forwarded-For", "198.51.100.1, garbage, 10.0.0.4")]) == "10.0.0.4")
    }

    @Test func forwardedIsReadOnlyWithoutXForwardedFor() {
        #expect(self.client(peer: "::1", [("Forwarded", #"for="[2001:db8::9]:443""#)]) == "2001:db8::9")
        #expect(self.client(peer: "::1", [("Forwarded", "for=198.51.100.7"), ("X-Forwarded-For", "198.51.100.8")]) == "198.51.100.8")
    }

    @Test func forwardedAddressesComeBackInCanonicalForm() {
        #expect(self.client(peer: "127.0.0.1", [("X-Forwarded-For", "2001:DB8:0::1")]) == "2001:db8::1")
        #expect(self.client(peer: "127.0.0.1", [("X-Forwarded-For", "::ffff:198.51.100.1")]) == "198.51.100.1")
    }

    @Test func invalidEntriesNameTheirIndex() {
        do {
            _ = try TrustedProxies(["::1", "10.0.0/8"])
            Issue.record("a malformed range was accepted")
        } catch {
            #expect(error.index == 1 && error.text == "10.0.0/8")
        }
    }
}

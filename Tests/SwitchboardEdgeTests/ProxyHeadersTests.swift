import HTTPTypes
import NIOHTTP1
import Testing

@testable import SwitchboardEdge

@Suite struct ProxyHeadersTests {
    @Test func hopByHopAndConnectionNamedHeadersStayOnTheirHop() {
        var fields = HTTPFields()
        fields[.connection] = "keep-alive, X-Secret"
        fields[HTTPField.Name("X-Secret")!] = "1"
        fields[HTTPField.Name("Keep-Alive")!] = "timeout=5"
        fields[HTTPField.Name("Proxy-Authorization")!] = "Basic x"
        fields[.te] = "trailers"
        fields[HTTPField.Name("X-Kept")!] = "yes"
        let headers = ProxyHeaders.upstreamRequest(fields, peerIP: "192.0.2.1", trustedPeer: false, scheme: "http", host: "app.test")
        for name in ["connection", "x-secret", "keep-alive", "proxy-authorization", "te"] { #expect(!headers.contains(name: name)) }
        #expect(headers["x-kept"] == ["yes"])
    }

    @Test func forwardedForFromATrustedProxyKeepsItsListAndAppendsThePeer() {
        var fields = HTTPFields()
        fields[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.9"
        fields[HTTPField.Name("X-Forwarded-Host")!] = "spoofed"
        fields[HTTPField.Name("Forwarded")!] = "for=203.0.113.9"
        let headers = ProxyHeaders.upstreamRequest(fields, peerIP: "10.0.0.2", trustedPeer: true, scheme: "https", host: "app.test")
        #expect(headers["X-Forwarded-For"] == ["203.0.113.9, 10.0.0.2"])
        #expect(headers["Forwarded"] == ["for=203.0.113.9"])
        #expect(headers["X-Forwarded-Proto"] == ["https"])
        #expect(headers["X-Forwarded-Host"] == ["app.test"])
    }

    @Test func forwardingHeadersFromAnUntrustedPeerAreReplacedByThePeerAlone() {
        var fields = HTTPFields()
        fields[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.9"
        fields[HTTPField.Name("Forwarded")!] = "for=203.0.113.9"
        fields[HTTPField.Name("X-Real-IP")!] = "203.0.113.9"
        let headers = ProxyHeaders.upstreamRequest(fields, peerIP: "192.0.2.1", trustedPeer: false, scheme: "http", host: nil)
        #expect(headers["X-Forwarded-For"] == ["192.0.2.1"])
        #expect(!headers.contains(name: "Forwarded"))
        #expect(!headers.contains(name: "X-Real-IP"))
    }

    @Test func responseHeadersLoseHopByHopOnesAndKeepTheRest() {
        let headers: HTTPHeaders = [
            "Connection": "X-Hop", "X-Hop": "1", "Transfer-Encoding": "chunked", "Proxy-Authenticate": "Basic", "Set-Cookie": "a=1",
            "Content-Type": "text/plain",
        ]
        let fields = ProxyHeaders.clientResponse(headers)
        #expect(fields.map(\.name.canonicalName) == ["set-cookie", "content-type"])
    }
}

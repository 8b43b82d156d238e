import Testing

@testable import SwitchboardEdge

@Suite struct ProxyTargetTests {
    @Test func originFormTargetsKeepTheirPathAndQueryAsSent() throws {
        let target = try ProxyTarget("/a/b%20c?x=1&y=%2F")
        #expect(target.path == "/a/b%20c")
        #expect(target.query == "x=1&y=%2F")
        #expect(try ProxyTarget("/").path == "/")
        #expect(try ProxyTarget("/meta?").query == "")
        #expect(try ProxyTarget("/@127.0.0.1:9999/x").path == "/@127.0.0.1:9999/x")
    }

    @Test(arguments: [
        "", "*", "@127.0.0.1:9999/meta", "127.0.0.1:9999", "http://127.0.0.1:9999/meta", "HTTPS://evil/x", "meta", "//evil.example/x",
        "/a\\b", "/a\r\nX-Injected: 1", "/a\0", "/a b", "/a#frag", "/caf\u{e9}", "/a%zz", "/a%4", "/a\u{7f}", "\\\\evil/x",
    ])
    func everyOtherFormIsRefused(target: String) {
        #expect(throws: ProxyTarget.Refusal.self) { try ProxyTarget(target) }
    }
}

@Suite struct ProxyUpstreamTests {
    @Test func theURLIsBuiltFromTheUpstreamsPartsAndTheTarget() throws {
        let upstream = try #require(ProxyUpstream("http://127.0.0.1:3000/app/"))
        #expect(upstream.scheme == "http" && upstream.host == "127.0.0.1" && upstream.port == 3000 && upstream.pathPrefix == "/app")
        #expect(upstream.url(for: try ProxyTarget("/meta?a=1")) == "http://127.0.0.1:3000/app/meta?a=1")
    }

    @Test func defaultPortsAndIPv6HostsAreSpelledOut() throws {
        #expect(ProxyUpstream("https://app.example")?.url(for: try ProxyTarget("/")) == "https://app.example:443/")
        #expect(ProxyUpstream("http://[::1]:8080")?.url(for: try ProxyTarget("/x")) == "http://[::1]:8080/x")
    }

    @Test func noTargetMovesTheRequestToAnotherHost() throws {
        let upstream = try #require(ProxyUpstream("http://127.0.0.1:3000"))
        for text in ["/@127.0.0.1:9999/meta", "/%2F%2Fevil/x", "/..//evil:1/x", "/?@evil:1/", "/;@evil:1"] {
            let url = try #require(upstream.url(for: try ProxyTarget(text)))
            #expect(url.hasPrefix("http://127.0.0.1:3000/"), "\(text)")
        }
    }

    @Test(arguments: ["ftp://host", "http://user:pw@host", "http://host/?q=1", "http://host/#f", "host:80", "http://"])
    func upstreamsWithOtherPartsAreRefused(text: String) {
        #expect(ProxyUpstream(text) == nil)
    }
}

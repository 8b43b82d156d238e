import Testing

@testable import SwitchboardEdge

@Suite struct OriginSyntaxTests {
    @Test(arguments: [
        "https://app.example.com", "http://localhost:8080", "https://*.example.com", "http://127.0.0.1:3000", "https://xn--bcher-kva.de",
    ])
    func originsWithSchemeHostAndPortAreAccepted(_ origin: String) {
        #expect(OriginSyntax.isValid(origin))
    }

    @Test(arguments: [
        "app.example.com", "ftp://example.com", "https://example.com/", "https://example.com/path", "https://", "https://exa mple.com",
        "https://example.com:0", "https://example.com:99999", "https://*.", "*", "https://a..b", "javascript:alert(1)",
    ])
    func anythingElseIsRefused(_ origin: String) {
        #expect(!OriginSyntax.isValid(origin))
    }
}

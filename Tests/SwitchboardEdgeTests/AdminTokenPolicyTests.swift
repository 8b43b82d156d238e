import Foundation
import Testing

@testable import SwitchboardEdge

@Suite struct AdminTokenPolicyTests {
    func config(host: String = "127.0.0.1", listener: String? = nil, token: String?) -> SwitchboardConfig {
        var config = SwitchboardConfig()
        config.server.host = host
        if let listener { config.listeners = [ListenerConfig(address: listener, port: 8443)] }
        config.admin.token = token
        return config
    }

    @Test func loopbackKeepsAnyToken() {
        for host in ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "LocalHost"] {
            #expect(AdminTokenPolicy.problem(self.config(host: host, token: "change-me")) == nil, "\(host)")
            #expect(AdminTokenPolicy.problem(self.config(host: host, token: "")) == nil, "\(host)")
        }
    }

    @Test func aNonLoopbackHostRefusesASampleShortOrEmptyToken() throws {
        let sample = try #require(AdminTokenPolicy.problem(self.config(host: "0.0.0.0", token: "change-me")))
        #expect(sample.contains("[server] host \"0.0.0.0\"") && sample.contains("sample") && sample.contains("at least 24 characters"))
        #expect(!sample.contains("\n"))
        #expect(AdminTokenPolicy.problem(self.config(host: "::", token: ""))?.contains("is empty") == true)
        #expect(AdminTokenPolicy.problem(self.config(host: "192.0.2.1", token: String(repeating: "x", count: 23)))?.contains("23 characters") == true)
        #expect(AdminTokenPolicy.problem(self.config(host: "edge.example", token: "short"))?.contains("5 characters") == true)
    }

    @Test func aNonLoopbackListenerCountsToo() {
        let problem = AdminTokenPolicy.problem(self.config(listener: "0.0.0.0", token: "change-me"))
        #expect(problem?.contains("listeners[0].address \"0.0.0.0\"") == true)
    }

    @Test func aLongTokenOrNoTokenMayFaceTheNetwork() {
        #expect(AdminTokenPolicy.problem(self.config(host: "0.0.0.0", token: String(repeating: "k", count: 24))) == nil)
        #expect(AdminTokenPolicy.problem(self.config(host: "0.0.0.0", token: nil)) == nil)
    }

    @Test func everyAdminTokenShippedInConfIsASample() throws {
        let conf = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../conf").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: conf.path).filter { $0.hasSuffix(".toml") }
        #expect(!files.isEmpty)
        for file in files {
            let config = try ConfigLoader.parse(String(contentsOf: conf.appendingPathComponent(file), encoding: .utf8))
            if let token = config.admin.token { #expect(AdminTokenPolicy.samples.contains(token), "\(file): \(token)") }
        }
    }
}

@Suite struct AdminAuthorizationCheckTests {
    let token = "an-admin-token-of-24-chars"

    @Test func onlyABearerThatIsNotTheTokenIsAGuess() {
        #expect(AdminAuthorization.check(authorization: "Bearer \(self.token)", token: self.token) == .right)
        #expect(AdminAuthorization.check(authorization: "bearer \(self.token)", token: self.token) == .right)
        #expect(AdminAuthorization.check(authorization: "Bearer nope", token: self.token) == .wrong)
        #expect(AdminAuthorization.check(authorization: "Bearer \(self.token)x", token: self.token) == .wrong)
    }

    @Test func requestsWithoutATokenAreNotGuesses() {
        for header in [nil, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Bearer null", "Bearer undefined"] {
            #expect(AdminAuthorization.check(authorization: header, token: self.token) == .none, "\(header ?? "nil")")
        }
    }

    @Test func withoutAConfiguredTokenNothingIsRight() {
        #expect(AdminAuthorization.check(authorization: "Bearer x", token: nil) == .wrong)
        #expect(AdminAuthorization.check(authorization: "Bearer ", token: nil) == .none)
    }
}

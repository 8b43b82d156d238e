import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwitchboardAdapterKit
import Testing

@testable import SwitchboardEdge

@Suite struct EventStreamClaimTests {
    /// Stands for the upgrade handler a claim removes.
    final class Otherwise: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
    }

    func claim() -> EventStreamClaim {
        EventStreamClaim(paths: ["/sse"], otherwise: Otherwise(), logger: Logger(label: "test")) { _, _ in Response(status: .ok) }
    }

    func head(_ method: HTTPMethod, _ uri: String, headers: HTTPHeaders = [:]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
    }

    @Test func onlyAGetOfAStreamPathThatIsNoUpgradeIsClaimed() {
        let claim = self.claim()
        #expect(claim.claims(self.head(.GET, "/sse")))
        #expect(claim.claims(self.head(.GET, "/sse?key=pk&channel=a")))
        #expect(!claim.claims(self.head(.POST, "/sse?key=pk")))
        #expect(!claim.claims(self.head(.OPTIONS, "/sse?key=pk")))
        #expect(!claim.claims(self.head(.GET, "/sse?key=pk", headers: ["Upgrade": "websocket"])))
        #expect(!claim.claims(self.head(.GET, "/sse/x")))
        #expect(!claim.claims(self.head(.GET, "/api/health")))
    }

    @Test func anotherFirstRequestPassesOnUntouchedAndTheClaimLeaves() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        let otherwise = Otherwise()
        let claim = EventStreamClaim(paths: ["/sse"], otherwise: otherwise, logger: Logger(label: "test")) { _, _ in
            Response(status: .ok)
        }
        try channel.pipeline.syncOperations.addHandler(claim)
        try channel.pipeline.syncOperations.addHandler(otherwise)
        try channel.writeInbound(HTTPServerRequestPart.head(self.head(.GET, "/api/health")))
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("the request did not pass on")
            return
        }
        #expect(head.uri == "/api/health")
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: EventStreamClaim.self) }
        #expect((try? channel.pipeline.syncOperations.handler(type: Otherwise.self)) != nil)
    }

    @Test func answersCarryAnHTTPDateAndTheServersName() {
        #expect(EventStreamClaim.httpDate(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        let headers = EventStreamClaim.served([.contentType: "text/event-stream"])
        #expect(headers["server"] == ["switchboard"])
        #expect(headers["date"].count == 1)
        #expect(headers["content-type"] == ["text/event-stream"])
    }
}

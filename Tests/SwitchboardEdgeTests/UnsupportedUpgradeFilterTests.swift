import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SwitchboardEdge

@Suite struct UnsupportedUpgradeFilterTests {
    static func head(_ headers: [(String, String)], method: HTTPMethod = .GET) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: "/x", headers: HTTPHeaders(headers))
    }

    static let handshake = [("Upgrade", "websocket"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]

    @Test func onlyAWholeWebSocketHandshakeKeepsItsUpgradeHeader() {
        #expect(!UnsupportedUpgradeFilter.ignoresUpgrade(Self.head([]), supported: "websocket"))
        #expect(!UnsupportedUpgradeFilter.ignoresUpgrade(Self.head(Self.handshake), supported: "websocket"))
        #expect(UnsupportedUpgradeFilter.ignoresUpgrade(Self.head([("Upgrade", "h2c")]), supported: "websocket"))
        #expect(UnsupportedUpgradeFilter.ignoresUpgrade(Self.head(Self.handshake, method: .POST), supported: "websocket"))
        #expect(
            UnsupportedUpgradeFilter.ignoresUpgrade(
                Self.head(Array(Self.handshake.dropLast()) + [("Sec-WebSocket-Version", "8")]),
                supported: "websocket"
            )
        )
        #expect(UnsupportedUpgradeFilter.ignoresUpgrade(Self.head(Array(Self.handshake.dropLast())), supported: "websocket"))
    }

    @Test func anIgnoredUpgradeReachesTheNextHandlerWithoutItsHeaderAndTheFilterLeaves() throws {
        let channel = EmbeddedChannel(handler: UnsupportedUpgradeFilter())
        try channel.writeInbound(HTTPServerRequestPart.head(Self.head([("Upgrade", "h2c"), ("Host", "a")])))
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no head")
            return
        }
        #expect(head.headers["Upgrade"].isEmpty && head.headers["Host"] == ["a"])
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: UnsupportedUpgradeFilter.self) }
    }
}

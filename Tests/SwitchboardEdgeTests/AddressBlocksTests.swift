import Foundation
import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Synchronization
import Testing

@testable import SwitchboardEdge

@Suite struct AddressBlocksTests {
    let logger = Logger(label: "test")

    static func block(_ range: String, createdAt: Int64 = 1_000, expiresAt: Int64? = nil) throws -> AddressBlocks.Block {
        AddressBlocks.Block(network: try #require(IPNetwork(range)), reason: "abuse", createdAt: createdAt, expiresAt: expiresAt)
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("blocks-\(UUID().uuidString).sqlite").path
    }

    @Test func anAdminBlockIsInForceBesideTheConfiguredRangesAndSendsAwayWhatIsOpenFromIt() throws {
        let farewells = ShutdownNotice()
        let blocks = try AddressBlocks(configured: try AddressRanges(["198.51.100.0/24"]), farewells: farewells, store: nil, logger: self.logger)
        let sentAway = Mutex<[String]>([])
        for ip in ["203.0.113.9", "192.0.2.1"] {
            _ = farewells.register(app: "1001", caller: Caller(ip: ip)) { _ in sentAway.withLock { $0.append(ip) } }
        }
        try blocks.add(Self.block("203.0.113.0/24"), now: 2_000)
        #expect(sentAway.withLock { $0 } == ["203.0.113.9"])
        #expect(blocks.effective.current.contains(text: "203.0.113.200") && blocks.effective.current.contains(text: "198.51.100.1"))
        #expect(!blocks.effective.current.contains(text: "192.0.2.1"))

        // A reload replaces the configured ranges and keeps the admin's.
        #expect(blocks.replaceConfigured(AddressRanges()))
        #expect(!blocks.replaceConfigured(AddressRanges()))
        #expect(blocks.effective.current.contains(text: "203.0.113.200") && !blocks.effective.current.contains(text: "198.51.100.1"))

        #expect(try blocks.remove(try #require(IPNetwork("203.0.113.0/24"))))
        #expect(try !blocks.remove(try #require(IPNetwork("203.0.113.0/24"))))
        #expect(blocks.effective.current.isEmpty && blocks.blocks(now: 2_000).isEmpty)
    }

    @Test func aBlockLiftsAtItsExpiryAndLeavesTheStore() throws {
        let store = try SQLiteStore(path: ":memory:")
        let blocks = try AddressBlocks(configured: AddressRanges(), farewells: ShutdownNotice(), store: store, logger: self.logger, now: 0)
        try blocks.add(Self.block("203.0.113.7", expiresAt: 5_000), now: 1_000)
        try blocks.add(Self.block("2001:db8::/32"), now: 1_000)
        blocks.sweep(now: 4_999)
        #expect(blocks.effective.current.contains(text: "203.0.113.7"))
        #expect(blocks.blocks(now: 5_000).map(\.network.description) == ["2001:db8::/32"])
        blocks.sweep(now: 5_000)
        #expect(!blocks.effective.current.contains(text: "203.0.113.7") && blocks.effective.current.contains(text: "2001:db8::1"))
        #expect(try store.addressBlocks().map(\.address) == ["2001:db8::/32"])
        // A block already expired when it arrives (from another node, late) is only forgotten.
        try blocks.add(Self.block("192.0.2.0/24", expiresAt: 5_000), now: 6_000)
        #expect(blocks.count == 1)
    }

    @Test func blocksOutliveARestartExceptThoseThatExpiredMeanwhile() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let blocks = try AddressBlocks(
                configured: AddressRanges(),
                farewells: ShutdownNotice(),
                store: try SQLiteStore(path: path),
                logger: self.logger
            )
            try blocks.add(Self.block("203.0.113.7", expiresAt: 5_000), now: 1_000)
            try blocks.add(Self.block("198.51.100.0/24", createdAt: 1_500, expiresAt: 50_000), now: 1_000)
        }
        let reopened = try AddressBlocks(
            configured: AddressRanges(),
            farewells: ShutdownNotice(),
            store: try SQLiteStore(path: path),
            logger: self.logger,
            now: 10_000
        )
        #expect(reopened.blocks(now: 10_000) == [try Self.block("198.51.100.0/24", createdAt: 1_500, expiresAt: 50_000)])
        #expect(reopened.effective.current.contains(text: "198.51.100.20") && !reopened.effective.current.contains(text: "203.0.113.7"))
    }

    @Test func theListIsBoundedButABlockCanAlwaysBeReplaced() throws {
        let blocks = try AddressBlocks(configured: AddressRanges(), farewells: ShutdownNotice(), store: nil, logger: self.logger, maxBlocks: 2)
        try blocks.add(Self.block("203.0.113.1"), now: 2_000)
        #expect(blocks.hasRoom(for: try #require(IPNetwork("203.0.113.2"))))
        try blocks.add(Self.block("203.0.113.2"), now: 2_000)
        #expect(!blocks.hasRoom(for: try #require(IPNetwork("203.0.113.3"))))
        #expect(blocks.hasRoom(for: try #require(IPNetwork("203.0.113.2"))))
    }

    @Test func aPostBodyIsCheckedFieldByField() throws {
        let block = try AddressBlockRoutes.block(
            ["address": .string("203.0.113.0/24"), "reason": .string("scraper"), "expiresIn": .integer(60)],
            now: 1_000
        )
        #expect(
            block == AddressBlocks.Block(network: try #require(IPNetwork("203.0.113.0/24")), reason: "scraper", createdAt: 1_000, expiresAt: 61_000)
        )
        #expect(try AddressBlockRoutes.block(["address": .string("::1")], now: 1_000).expiresAt == nil)
        let refused: [[String: JSONValue]] = [
            [:],
            ["address": .integer(1)],
            ["address": .string("10.0.0.1/8")],
            ["address": .string("not an address")],
            ["address": .string(String(repeating: "1", count: 100))],
            ["address": .string("203.0.113.7"), "reason": .string(String(repeating: "x", count: 201))],
            ["address": .string("203.0.113.7"), "reason": .integer(3)],
            ["address": .string("203.0.113.7"), "expiresIn": .integer(0)],
            ["address": .string("203.0.113.7"), "expiresIn": .integer(AddressBlocks.maxLifetimeSeconds + 1)],
            ["address": .string("203.0.113.7"), "expiresIn": .number(1.5)],
            ["address": .string("203.0.113.7"), "expiresIn": .string("60")],
        ]
        for body in refused {
            #expect(throws: AdminError.self, "\(body)") { try AddressBlockRoutes.block(body) }
        }
    }

    @Test func aClusterDocumentCarriesTheBlockAndItsTombstoneLiftsIt() throws {
        let block = try Self.block("203.0.113.0/24", createdAt: 1_000, expiresAt: 9_000)
        let document = JSONValue.object(AddressBlockRoutes.fields(block)).text
        #expect(try AddressBlockRoutes.block(document: document, network: block.network) == block)
        #expect(try AddressBlockRoutes.block(document: "{}", network: block.network) == nil)
        let tombstone = AddressBlockRoutes.document(nil, lifting: block)
        #expect(try AddressBlockRoutes.block(document: tombstone, network: block.network) == nil)
        // Both are spent when the block would have expired; a block without an expiry never is.
        #expect(AddressBlockRoutes.expiry(document: document) == 9_000 && AddressBlockRoutes.expiry(document: tombstone) == 9_000)
        #expect(AddressBlockRoutes.expiry(document: AddressBlockRoutes.document(nil, lifting: try Self.block("192.0.2.1"))) == nil)
        #expect(throws: (any Error).self) { try AddressBlockRoutes.block(document: "[]", network: block.network) }
        #expect(throws: (any Error).self) { try AddressBlockRoutes.block(document: #"{"reason": 1}"#, network: block.network) }
    }
}

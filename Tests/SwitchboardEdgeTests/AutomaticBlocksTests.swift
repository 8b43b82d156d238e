import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardEdge

@Suite struct AutomaticBlocksTests {
    let farewells = ShutdownNotice()
    let blocks: AddressBlocks
    let limits = LiveLimits(LiveLimits.Values(autoBlockRefusals: 3, autoBlockWindowSeconds: 60, autoBlockSeconds: 600))
    let sink: AutomaticBlocks
    let events = MemorySecurityLog()

    init() throws {
        self.blocks = try AddressBlocks(configured: AddressRanges(), farewells: self.farewells, store: nil, logger: Logger(label: "test"))
        self.sink = AutomaticBlocks(
            limits: self.limits,
            blocks: self.blocks,
            uncounted: LiveSetting(AddressRanges.loopback),
            trusted: LiveSetting(try TrustedProxies(["10.0.0.0/8"])),
            events: self.events,
            logger: Logger(label: "test")
        )
    }

    func refuse(_ ip: String, _ kind: SecurityEvent.Kind = .badSignature, times: Int = 1) {
        for _ in 0..<times { self.sink.record(SecurityEvent(time: 0, app: "1001", kind: kind, clientIP: ip, detail: "refused")) }
    }

    /// The block a trip puts in force, made on a task of its own.
    func blockOf(_ range: String) async throws -> AddressBlocks.Block? {
        let network = try #require(IPNetwork(range))
        for _ in 0..<200 where self.blocks.block(network) == nil { try await Task.sleep(for: .milliseconds(10)) }
        return self.blocks.block(network)
    }

    @Test func anAddressRefusedAutoBlockRefusalsTimesIsBlockedForAutoBlockSecondsAndSentAway() async throws {
        let sentAway = Mutex(false)
        _ = self.farewells.register(app: "1001", caller: Caller(ip: "203.0.113.7")) { _ in sentAway.withLock { $0 = true } }
        self.refuse("203.0.113.7", times: 2)
        self.refuse("203.0.113.8", times: 2)
        #expect(self.blocks.count == 0 && self.sink.tracked == 2)
        self.refuse("203.0.113.7", .originBlocked)
        let block = try #require(try await self.blockOf("203.0.113.7"))
        #expect(block.reason == "automatic: 3 refusals in 60 s, the last origin_blocked")
        #expect(block.expiresAt.map { $0 - block.createdAt } == 600_000)
        #expect(sentAway.withLock { $0 })
        #expect(self.blocks.count == 1 && self.sink.tracked == 1)
        let event = try #require(self.events.events(SecurityEventQuery()).first)
        #expect(event.kind == .addressBlocked && event.clientIP == "203.0.113.7")
        #expect(event.detail == "203.0.113.7/32 blocked for 600 s (automatic: 3 refusals in 60 s, the last origin_blocked)")
    }

    @Test func anIPv6ClientIsCountedAndBlockedByItsSlash64() async throws {
        for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] { self.refuse(ip) }
        #expect(try await self.blockOf("2001:db8:1:2::/64") != nil)
    }

    @Test func refusalsNotOfTheClientsDoingBlamelessOnesAndExemptAddressesAreNeverCounted() {
        for kind in [SecurityEvent.Kind.appDisabled, .overQuota, .addressBlocked] { self.refuse("203.0.113.7", kind, times: 5) }
        self.refuse("127.0.0.1", times: 5)
        self.refuse("10.1.2.3", times: 5)
        self.sink.record(SecurityEvent(time: 0, app: nil, kind: .badRequest, clientIP: nil, detail: "no address"))
        for _ in 0..<5 {
            self.sink.record(SecurityEvent(time: 0, app: nil, kind: .badSignature, clientIP: "203.0.113.9", detail: "no token", blameless: true))
        }
        #expect(self.sink.tracked == 0 && self.blocks.count == 0)
    }

    @Test func onlyTheKindsOfAutoBlockKindsCount() {
        var values = self.limits.current
        values.autoBlockKinds = [.badSignature]
        self.limits.replace(values)
        for kind in SecurityEvent.Kind.all where kind != .badSignature { self.refuse("203.0.113.7", kind, times: 5) }
        #expect(self.sink.tracked == 0)
        self.refuse("203.0.113.7", .badSignature)
        #expect(self.sink.tracked == 1)
    }

    @Test func aReloadChangesTheThresholdAndZeroTurnsItOff() async throws {
        var values = self.limits.current
        values.autoBlockRefusals = 0
        self.limits.replace(values)
        self.refuse("203.0.113.7", times: 10)
        #expect(self.sink.tracked == 0)
        values.autoBlockRefusals = 2
        values.autoBlockSeconds = 5
        self.limits.replace(values)
        self.refuse("203.0.113.7", times: 2)
        let block = try #require(try await self.blockOf("203.0.113.7"))
        #expect(block.expiresAt.map { $0 - block.createdAt } == 5_000)
    }

    @Test func anOperatorsBlockOfTheSameRangeIsNotReplaced() async throws {
        let operators = AddressBlocks.Block(network: try #require(IPNetwork("203.0.113.7")), reason: "abuse", createdAt: 1, expiresAt: nil)
        try self.blocks.add(operators, now: 2)
        await self.sink.put(AddressBlocks.Block(network: operators.network, reason: "automatic", createdAt: 3, expiresAt: 9_999_999_999_999))
        #expect(self.blocks.block(operators.network) == operators)
    }

    @Test func automaticBlocksLeaveTheLastTenthOfTheListToOperators() async throws {
        let blocks = try AddressBlocks(
            configured: AddressRanges(),
            farewells: ShutdownNotice(),
            store: nil,
            logger: Logger(label: "test"),
            maxBlocks: 10
        )
        let sink = AutomaticBlocks(
            limits: self.limits,
            blocks: blocks,
            uncounted: LiveSetting(AddressRanges()),
            trusted: LiveSetting(TrustedProxies()),
            logger: Logger(label: "test")
        )
        for n in 1...10 {
            let network = try #require(IPNetwork("203.0.113.\(n)"))
            await sink.put(AddressBlocks.Block(network: network, reason: "automatic", createdAt: 3, expiresAt: 9_999_999_999_999))
        }
        #expect(blocks.count == 9 && sink.room == 9)
        let operators = try #require(IPNetwork("192.0.2.1"))
        #expect(blocks.hasRoom(for: operators))
    }
}

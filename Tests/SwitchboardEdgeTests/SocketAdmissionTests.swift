import NIOCore
import NIOEmbedded
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite final class SocketAdmissionTests {
    let security = MemorySecurityLog()
    let live = LiveLimits(LiveLimits.Values(maxSocketsPerIP: 2))
    /// Every channel made, closed when the test ends.
    var channels: [EmbeddedChannel] = []

    deinit {
        for channel in self.channels { _ = try? channel.finish() }
    }

    let trusted = LiveSetting(TrustedProxies())
    let uncounted = LiveSetting(AddressRanges())
    let blocked = LiveSetting(AddressRanges())
    let open = OpenSockets()

    func admission(trusted: TrustedProxies = TrustedProxies()) -> SocketAdmission {
        self.trusted.replace(trusted)
        return SocketAdmission(
            sockets: ConnectionsByAddress(uncounted: self.uncounted),
            limits: self.live,
            trusted: self.trusted,
            blocked: self.blocked,
            gate: Gate(apps: AppRegistry(apps: []), security: self.security, limits: self.live),
            open: self.open
        )
    }

    func connection(from ip: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        channel.remoteAddress = try SocketAddress(ipAddress: ip, port: 40_000)
        self.channels.append(channel)
        return channel
    }

    @Test func aPeerPastItsSocketsIsRefusedWithAnEventAndAClosedSocketFreesItsPlace() throws {
        let admission = self.admission()
        let held = try (0..<2).map { _ in try self.connection(from: "203.0.113.7") }
        #expect(held.allSatisfy { admission.admit($0) })
        #expect(try !admission.admit(self.connection(from: "203.0.113.7")))
        #expect(try admission.admit(self.connection(from: "198.51.100.1")))
        let events = self.security.events(SecurityEventQuery(kind: .rateLimited))
        #expect(events.count == 1 && events[0].clientIP == "203.0.113.7" && events[0].detail.contains("more than 2 open sockets"))
        _ = try held[0].finish()
        #expect(try admission.admit(self.connection(from: "203.0.113.7")))
    }

    @Test func aTrustedProxyIsNotCountedAndAReloadedLimitAppliesToTheNextSocket() throws {
        let admission = self.admission(trusted: try TrustedProxies(["10.0.0.0/8"]))
        #expect(try (0..<5).allSatisfy { _ in admission.admit(try self.connection(from: "10.1.2.3")) })
        #expect(try (0..<2).allSatisfy { _ in admission.admit(try self.connection(from: "192.0.2.9")) })
        #expect(try !admission.admit(self.connection(from: "192.0.2.9")))
        self.live.replace(LiveLimits.Values(maxSocketsPerIP: 0))
        #expect(try admission.admit(self.connection(from: "192.0.2.9")))
    }

    @Test func aBlockedPeerIsRefusedAtAcceptEvenAsATrustedProxyUntilAReloadUnblocksIt() throws {
        let admission = self.admission(trusted: try TrustedProxies(["10.0.0.0/8"]))
        self.blocked.replace(try AddressRanges(["203.0.113.0/24", "10.9.0.0/16"]))
        #expect(try !admission.admit(self.connection(from: "203.0.113.7")))
        #expect(try !admission.admit(self.connection(from: "10.9.1.1")))
        #expect(try admission.admit(self.connection(from: "10.1.2.3")))
        #expect(try admission.admit(self.connection(from: "198.51.100.1")))
        let events = self.security.events(SecurityEventQuery(kind: .addressBlocked))
        #expect(events.map(\.clientIP) == ["10.9.1.1", "203.0.113.7"] || events.map(\.clientIP) == ["203.0.113.7", "10.9.1.1"])
        self.blocked.replace(AddressRanges())
        #expect(try admission.admit(self.connection(from: "203.0.113.7")))
    }

    /// A block ends every socket open from its range, an idle HTTP connection too (it has no session to send away),
    /// once the sessions sent away had their moment; a trusted proxy's sockets are not kept, so never closed by it.
    @Test func aBlockClosesTheSocketsOpenFromItsRangeButNotAProxys() throws {
        let admission = self.admission(trusted: try TrustedProxies(["10.0.0.0/8"]))
        let blocked = try self.connection(from: "203.0.113.7")
        let other = try self.connection(from: "198.51.100.1")
        let proxy = try self.connection(from: "10.1.2.3")
        #expect([blocked, other, proxy].allSatisfy { admission.admit($0) })
        #expect(self.open.count == 2)
        let closed = Closed()
        for (name, channel) in [("blocked", blocked), ("other", other), ("proxy", proxy)] {
            channel.closeFuture.whenComplete { _ in closed.names.append(name) }
        }
        #expect(self.open.close(from: try AddressRanges(["203.0.113.0/24", "10.0.0.0/8"])) == 1)
        #expect(closed.names.isEmpty)
        blocked.embeddedEventLoop.advanceTime(by: OpenSockets.farewellGrace)
        #expect(closed.names == ["blocked"])
        #expect(self.open.count == 1)
    }

    @Test func aReloadedProxyListAppliesToTheNextSocket() throws {
        let admission = self.admission()
        #expect(try (0..<2).allSatisfy { _ in admission.admit(try self.connection(from: "10.1.2.3")) })
        #expect(try !admission.admit(self.connection(from: "10.1.2.3")))
        self.trusted.replace(try TrustedProxies(["10.0.0.0/8"]))
        #expect(try (0..<5).allSatisfy { _ in admission.admit(try self.connection(from: "10.1.2.3")) })
    }

    @Test func anAddressUncountedByAReloadGivesBackOnlyThePlacesItTook() throws {
        let admission = self.admission()
        let counted = try (0..<2).map { _ in try self.connection(from: "192.0.2.9") }
        #expect(counted.allSatisfy { admission.admit($0) })
        self.uncounted.replace(try AddressRanges(["192.0.2.0/24"]))
        let uncounted = try (0..<3).map { _ in try self.connection(from: "192.0.2.9") }
        #expect(uncounted.allSatisfy { admission.admit($0) })
        for channel in uncounted { _ = try channel.finish() }
        self.uncounted.replace(AddressRanges())
        // The two counted sockets still hold their places: the uncounted ones gave back nothing.
        #expect(try !admission.admit(self.connection(from: "192.0.2.9")))
        _ = try counted[0].finish()
        #expect(try admission.admit(self.connection(from: "192.0.2.9")))
    }
}

/// The channels seen closing, in order (embedded channels close on the test's own thread).
private final class Closed: @unchecked Sendable {
    var names: [String] = []
}

import Synchronization
import Testing

@testable import SwitchboardAdapterKit

@Suite("Shutdown notice")
struct ShutdownNoticeTests {
    final class Heard: Sendable {
        let farewells = Mutex<[String: [Farewell]]>([:])
        func record(_ who: String, _ farewell: Farewell) { self.farewells.withLock { $0[who, default: []].append(farewell) } }
        subscript(_ who: String) -> [Farewell] { self.farewells.withLock { $0[who] ?? [] } }
    }

    @Test func dismissingAnAppSendsAwayOnlyItsConnections() {
        let notice = ShutdownNotice()
        let heard = Heard()
        _ = notice.register(app: "a") { heard.record("a1", $0) }
        _ = notice.register(app: "b") { heard.record("b1", $0) }
        notice.dismiss(app: "a")
        #expect(heard["a1"] == [.appDisabled])
        #expect(heard["b1"].isEmpty)
    }

    @Test func blockingAddressesSendsAwayTheConnectionsFromThemInEveryApp() throws {
        let notice = ShutdownNotice()
        let heard = Heard()
        _ = notice.register(app: "a", caller: Caller(ip: "203.0.113.7")) { heard.record("a-blocked", $0) }
        _ = notice.register(app: "b", caller: Caller(ip: "2001:db8::1")) { heard.record("b-blocked", $0) }
        _ = notice.register(app: "a", caller: Caller(ip: "198.51.100.1")) { heard.record("a-other", $0) }
        _ = notice.register(app: "a") { heard.record("a-unknown", $0) }
        #expect(notice.dismiss(addresses: try AddressRanges(["203.0.113.0/24", "2001:db8::/32"])) == 2)
        #expect(heard["a-blocked"] == [.addressBlocked] && heard["b-blocked"] == [.addressBlocked])
        #expect(heard["a-other"].isEmpty && heard["a-unknown"].isEmpty)
        #expect(notice.dismiss(addresses: AddressRanges()) == 0)
    }

    @Test func blockingATrustedProxysAddressSendsAwayEveryConnectionThatCameThroughIt() throws {
        let notice = ShutdownNotice()
        let heard = Heard()
        _ = notice.register(app: "a", caller: Caller(ip: "198.51.100.7", proxy: "10.0.0.5")) { heard.record("via-proxy", $0) }
        _ = notice.register(app: "a", caller: Caller(ip: "203.0.113.9", proxy: "10.0.0.6")) { heard.record("other-proxy", $0) }
        _ = notice.register(app: "a", caller: Caller(ip: "not an address")) { heard.record("unparsed", $0) }
        #expect(notice.dismiss(addresses: try AddressRanges(["10.0.0.5"])) == 1)
        #expect(heard["via-proxy"] == [.addressBlocked])
        #expect(heard["other-proxy"].isEmpty && heard["unparsed"].isEmpty)
    }

    @Test func shutdownReachesEveryConnectionOnceAndLateComersAtOnce() {
        let notice = ShutdownNotice()
        let heard = Heard()
        let token = notice.register(app: "a") { heard.record("a1", $0) }
        _ = notice.register(app: "b") { heard.record("b1", $0) }
        notice.announce()
        notice.announce()
        #expect(heard["a1"] == [.shutdown] && heard["b1"] == [.shutdown])
        _ = notice.register(app: "a") { heard.record("late", $0) }
        #expect(heard["late"] == [.shutdown])
        notice.unregister(token)
        #expect(notice.pending == 2)
    }
}

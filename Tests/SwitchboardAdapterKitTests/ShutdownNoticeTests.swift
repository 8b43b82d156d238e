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

import ServiceLifecycle
import SwitchboardAdapterKit

/// On graceful shutdown, lets WebSocket clients get their protocol's goodbye before the server closes them.
///
/// It runs next to the HTTP application in one service group and is shut down first: it announces the
/// shutdown to the adapters' connections, waits (at most `grace`) until they have closed, and returns; only
/// then does the server stop accepting and close what is left with the WebSocket library's plain 1000.
struct ShutdownAnnouncer: Service {
    let notice: ShutdownNotice
    let grace: Duration

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is going down without a graceful phase
        }
        self.notice.announce()
        let deadline = ContinuousClock.now + self.grace
        while self.notice.pending > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

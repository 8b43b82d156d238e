import Logging
import ServiceLifecycle
import UnixSignals

/// Re-reads every TLS listener's certificate and key on SIGHUP, without touching open connections.
///
/// `kill -HUP <pid>` after renewing the PEM files; a bad file is logged and the previous certificate stays.
struct CertificateReloader: Service {
    let contexts: [ReloadableTLSContext]
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            self.logger.notice("SIGHUP: reloading TLS certificates", metadata: ["listeners": "\(self.contexts.count)"])
            for context in self.contexts { context.reload(logger: self.logger) }
        }
    }
}

import Logging
import ServiceLifecycle
import UnixSignals

/// On SIGHUP, re-reads every TLS listener's certificate and key, then the config file (`ConfigReload`), without
/// touching open connections.
///
/// `kill -HUP <pid>` (or `systemctl reload switchboard`) after renewing the PEM files or editing the config; a bad
/// certificate or a bad config is logged and the previous one stays.
struct ConfigReloader: Service {
    let contexts: [ReloadableTLSContext]
    /// Nil when the config was built in code (nothing to re-read).
    let config: ConfigReload?
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            if !self.contexts.isEmpty {
                self.logger.notice("SIGHUP: reloading TLS certificates", metadata: ["listeners": "\(self.contexts.count)"])
                for context in self.contexts { context.reload(logger: self.logger) }
            }
            self.config?.perform()
        }
    }
}

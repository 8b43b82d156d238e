import Logging
import ServiceLifecycle
import SwitchboardCore

/// Periodic housekeeping: expires silent server-side presence joins, trims expired history, samples throughput.
struct Janitor: Service {
    let bus: Bus
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            self.bus.throughput.sample(self.bus.stats, now: WallClock.milliseconds())
            // The wait ends early on graceful shutdown, so SIGTERM is not held up for a whole interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            do {
                try await self.bus.sweep(now: WallClock.milliseconds())
            } catch {
                self.logger.warning("sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

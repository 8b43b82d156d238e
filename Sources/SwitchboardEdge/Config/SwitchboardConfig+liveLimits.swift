import SwitchboardCore

extension SwitchboardConfig.Limits {
    /// The keys of `[limits]` that a SIGHUP reload applies without a restart (`LiveLimits`).
    var live: LiveLimits.Values {
        LiveLimits.Values(
            client: self.client,
            maxQueuedFrames: self.maxQueuedFrames,
            sseKeepaliveSeconds: self.sseKeepaliveSeconds,
            compressionMinBytes: self.compressionMinBytes,
            newConnectionsPerIPPerSecond: self.newConnectionsPerIPPerSecond,
            securityEventsPerIPPerSecond: self.securityEventsPerIPPerSecond,
            presenceTimeoutSeconds: self.presenceTimeoutSeconds,
            writeBatchMilliseconds: self.writeBatchMilliseconds,
            publishLagMilliseconds: self.publishLagMilliseconds,
            maxHistoryMegabytes: self.maxHistoryMegabytes,
            maxConnectionsPerIP: self.maxConnectionsPerIP,
            maxSocketsPerIP: self.maxSocketsPerIP,
            autoBlockRefusals: self.autoBlockRefusals,
            autoBlockWindowSeconds: self.autoBlockWindowSeconds,
            autoBlockSeconds: self.autoBlockSeconds,
            autoBlockKinds: self.autoBlockKinds
        )
    }
}

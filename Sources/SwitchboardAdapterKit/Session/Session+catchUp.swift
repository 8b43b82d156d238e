public import SwitchboardCore

extension Session {
    /// Replays every kept message of `channel` after `offset` up to `latest`, then the live messages held back since
    /// `beginRecovery`, with no gap and no duplicate.
    ///
    /// The replay goes in pages of at most half the queue, each queued once the client has read the last, so a
    /// catch-up longer than the queue neither ends the session as too slow nor is cut short, and it costs the server
    /// what the client reads, at the client's pace. It stops early when the session ends.
    public func catchUp(channel: String, after offset: UInt64, through latest: UInt64, bus: Bus, app: App) async {
        let perPage = max(1, min(self.maxQueuedFrames / 2, self.maxQueuedBytes / 2 / max(1, app.plan.maxMessageBytes)))
        var after = offset
        while after < latest {
            guard let page = try? await bus.history(app: app, channel: channel, after: after, limit: perPage),
                let last = page.publications.last?.position?.offset
            else { break }
            self.continueRecovery(channel: channel, after: after, history: page.publications)
            after = last
            guard after < latest, await self.drained() else { break }
        }
        self.finishRecovery(channel: channel, after: after, history: [])
    }
}

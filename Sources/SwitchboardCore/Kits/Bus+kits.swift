extension Bus {
    /// Applies `kit` to a message about to be published; a delivery status is checked against the channel's kept timeline.
    func admitKit(_ publication: Publication, kit: KitRule, app: App) async throws(BusError) {
        try await self.kits.admit(publication, kit: kit) {
            await self.keptDeliveryStatus(app: app, channel: publication.channel)
        }
    }

    /// The newest `delivery.status` kept on `channel`, if any.
    func keptDeliveryStatus(app: App, channel: String) async -> DeliveryStatus? {
        guard let page = try? await self.history(app: app, channel: channel, after: nil, limit: 100) else { return nil }
        for publication in page.publications.reversed() where KitGuard.baseName(publication.event) == "delivery.status" {
            if let status = KitPayload(publication.data)?.string("status").flatMap(DeliveryStatus.init(rawValue:)) { return status }
        }
        return nil
    }

    /// What a new subscriber of a kit channel is sent first, oldest first: a location channel's last kept message, a
    /// delivery channel's kept timeline. Empty for other channels. Protocols with their own replay (JSON-action
    /// `lastEventId`, Centrifugo recovery, SSE `Last-Event-ID`) do not need it; Pusher does.
    public func kitReplay(app: App, channel: String) async -> [Publication] {
        guard let count = app.rule(for: channel)?.kit?.replayOnSubscribe, count > 0 else { return [] }
        return (try? await self.history(app: app, channel: channel, after: nil, limit: count).publications) ?? []
    }
}

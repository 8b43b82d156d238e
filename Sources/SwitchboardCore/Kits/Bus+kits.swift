extension Bus {
    /// The most kept statuses a delivery status is checked against: enough to find what a run of support requests
    /// interrupted, unless the run alone is longer (then only the server resolves it).
    static let deliveryTimelineReadLimit = 1_000

    /// Applies `kit` to a message about to be published; a delivery status is checked against the channel's kept timeline.
    func admitKit(_ publication: Publication, kit: KitRule, app: App, byServer: Bool) async throws(BusError) {
        try await self.kits.admit(publication, kit: kit, byServer: byServer) {
            await self.keptDeliveryState(app: app, channel: publication.channel)
        }
    }

    /// Where the delivery on `channel` stands by its kept timeline (which keeps only statuses, so nothing pushes them out):
    /// its newest `deliveryTimelineReadLimit` entries, so a channel whose rule keeps a long history costs no more.
    func keptDeliveryState(app: App, channel: String) async -> DeliveryState {
        let page = try? await self.history(app: app, channel: channel, after: nil, limit: Self.deliveryTimelineReadLimit)
        guard let page else { return DeliveryState() }
        let statuses = page.publications.lazy.filter { KitGuard.baseName($0.event) == "delivery.status" }
            .compactMap { KitPayload($0.data)?.string("status").flatMap(DeliveryStatus.init(rawValue:)) }
        return DeliveryState(timeline: statuses)
    }

    /// What a new subscriber of a kit channel is sent first, oldest first: a location channel's last kept message, a
    /// delivery channel's kept timeline. Empty for other channels. Protocols with their own replay (JSON-action
    /// `lastEventId`, Centrifugo recovery, SSE `Last-Event-ID`) do not need it; Pusher does.
    public func kitReplay(app: App, channel: String) async -> [Publication] {
        guard let count = app.rule(for: channel)?.kit?.replayOnSubscribe, count > 0 else { return [] }
        return (try? await self.history(app: app, channel: channel, after: nil, limit: count).publications) ?? []
    }
}

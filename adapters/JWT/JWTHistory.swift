import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// A history query as the client protocol and the server API both ask it: `limit`, `since`, `reverse`.
public struct JWTHistory: Sendable {
    /// The publications, in the order asked.
    public var publications: [Publication]
    /// Where the stream stands now.
    public var latest: StreamPosition

    /// Reads `channel`'s history. `limit` 0 returns only the position, a negative one everything kept.
    ///
    /// Throws `unrecoverablePosition` when `since` names another epoch, `notAvailable` when the channel keeps no history.
    public static func query(
        bus: Bus,
        app: App,
        channel: String,
        limit: Int64,
        since: StreamPosition?,
        reverse: Bool
    ) async throws(JWTErrorCode) -> JWTHistory {
        guard app.policy(for: channel).history.size > 0 else { throw .notAvailable }
        // Only what the answer holds is read: a whole stream per call held a shared Redis connection for seconds.
        let count: Int? = limit >= 0 ? Int(min(limit, Int64(Int32.max))) : nil
        let page: HistoryPage
        do {
            switch (reverse, since) {
            case (false, let since):
                page = try await bus.history(app: app, channel: channel, after: since?.offset ?? 0, limit: count)
            case (true, nil):
                page = try await bus.history(app: app, channel: channel, after: nil, limit: count ?? Int(Int32.max))
            case (true, let since?):
                // The `count` before `since`, oldest first: offsets run by one, so they start `count` before it.
                let from = count.map { since.offset > UInt64($0) ? since.offset - UInt64($0) - 1 : 0 } ?? 0
                page = try await bus.history(app: app, channel: channel, after: from, limit: count.map { $0 + 1 })
            }
        } catch {
            throw .internal
        }
        let latest = page.latest ?? StreamPosition(offset: 0, epoch: "")
        if let since, !since.epoch.isEmpty, since.epoch != latest.epoch { throw .unrecoverablePosition }
        var publications = page.publications
        if reverse {
            if let since { publications = publications.filter { ($0.position?.offset ?? 0) < since.offset } }
            publications.reverse()
        }
        if let count { publications = Array(publications.prefix(count)) }
        return JWTHistory(publications: publications, latest: latest)
    }

    /// Writes `"publications":[…],"offset":…,"epoch":…` into an open object.
    func write(to json: inout JSONWriter) {
        json.key("publications")
        json.beginArray()
        for publication in self.publications { JWTEncoder.writePublication(publication, to: &json) }
        json.endArray()
        json.member("offset", self.latest.offset)
        json.member("epoch", self.latest.epoch)
    }
}

extension JWTErrorCode: Error {}

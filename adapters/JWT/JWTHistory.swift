import NIOCore
import SwitchboardAdapterKit
public import SwitchboardCore

/// A history query as the client protocol and the server API both ask it: `limit`, `since`, `reverse`.
public struct JWTHistory: Sendable {
    /// The publications, in the order asked.
    public var publications: [Publication]
    /// Where the stream stands now.
    public var latest: StreamPosition

    /// Reads `channel`'s history. `limit` 0 returns only the position, a negative one everything kept. At most `bytes`
    /// of data are read and answered (one publication at least): a client's answer must fit the queue it goes through,
    /// and a client paging with `since` gets the rest.
    ///
    /// Throws `unrecoverablePosition` when `since` names another epoch, `notAvailable` when the channel keeps no history.
    public static func query(
        bus: Bus,
        app: App,
        channel: String,
        limit: Int64,
        since: StreamPosition?,
        reverse: Bool,
        bytes: Int = .max
    ) async throws(JWTErrorCode) -> JWTHistory {
        guard app.policy(for: channel).history.size > 0 else { throw .notAvailable }
        // Only what the answer holds is read: a whole stream per call held a shared Redis connection for seconds.
        let count: Int? = limit >= 0 ? Int(min(limit, Int64(Int32.max))) : nil
        let reader = Reader(bus: bus, app: app, channel: channel, bytes: bytes)
        let page: HistoryPage
        do {
            switch (reverse, since) {
            case (false, let since): page = try await reader.oldest(after: since?.offset ?? 0, count: count)
            case (true, nil): page = try await reader.newest(count: count ?? Int(Int32.max))
            case (true, let since?): page = try await reader.newest(before: since.offset, count: count ?? Int(Int32.max))
            }
        } catch {
            throw .internal
        }
        let latest = page.latest ?? StreamPosition(offset: 0, epoch: "")
        if let since, !since.epoch.isEmpty, since.epoch != latest.epoch { throw .unrecoverablePosition }
        return JWTHistory(publications: reverse ? page.publications.reversed() : page.publications, latest: latest)
    }

    /// Reads one channel's history within a byte budget, a few messages at a time: each read takes no more than the
    /// bytes left could hold at the plan's largest message, so neither the read nor the answer outgrows the budget.
    struct Reader {
        let bus: Bus
        let app: App
        let channel: String
        let bytes: Int

        /// Messages to read next: what is still wanted, within what the budget left holds at the largest size (one when
        /// nothing is taken yet, so an answer always moves a paging client on).
        func batch(wanted: Int, used: Int, taken: Int) -> Int {
            guard self.bytes < .max else { return wanted }
            return min(wanted, max((self.bytes - used) / max(1, self.app.plan.maxMessageBytes), taken == 0 ? 1 : 0))
        }

        /// Whether a message of `size` still fits after `used`.
        func fits(_ size: Int, used: Int, taken: Int) -> Bool { taken == 0 || used + size <= self.bytes }

        /// The oldest messages after `offset`, at most `count` (all when nil), oldest first.
        func oldest(after offset: UInt64, count: Int?) async throws -> HistoryPage {
            guard self.bytes < .max else { return try await self.bus.history(app: self.app, channel: self.channel, after: offset, limit: count) }
            var page = HistoryPage(publications: [], latest: nil, truncated: false)
            var after = offset
            var used = 0
            while true {
                let want = self.batch(wanted: (count ?? Int(Int32.max)) - page.publications.count, used: used, taken: page.publications.count)
                let next = try await self.bus.history(app: self.app, channel: self.channel, after: after, limit: want)
                page.latest = next.latest ?? page.latest
                for publication in next.publications {
                    guard self.fits(publication.data.readableBytes, used: used, taken: page.publications.count) else { return page }
                    page.publications.append(publication)
                    used += publication.data.readableBytes
                    after = publication.position?.offset ?? after
                }
                guard want > 0, next.publications.count == want else { return page }
            }
        }

        /// The newest `count` messages, oldest first.
        func newest(count: Int) async throws -> HistoryPage {
            guard self.bytes < .max else { return try await self.bus.history(app: self.app, channel: self.channel, after: nil, limit: count) }
            return try await self.bus.replay(app: self.app, channel: self.channel, after: 0, count: count, bytes: self.bytes)
        }

        /// The newest `count` messages before offset `upper`, oldest first: offsets run by one, so each read names the
        /// few just below what it already has.
        func newest(before upper: UInt64, count: Int) async throws -> HistoryPage {
            var page = try await self.bus.history(app: self.app, channel: self.channel, after: nil, limit: 0)
            var taken: [Publication] = []
            var top = upper
            var used = 0
            while top > 1 {
                let want = min(self.batch(wanted: count - taken.count, used: used, taken: taken.count), Int(min(top - 1, UInt64(Int32.max))))
                guard want > 0 else { break }
                let from = top - UInt64(want) - 1
                let next = try await self.bus.history(app: self.app, channel: self.channel, after: from, limit: want)
                page.latest = next.latest ?? page.latest
                let below = next.publications.filter { ($0.position?.offset ?? .max) < top }
                for publication in below.reversed() {
                    guard self.fits(publication.data.readableBytes, used: used, taken: taken.count) else {
                        page.publications = taken.reversed()
                        return page
                    }
                    taken.append(publication)
                    used += publication.data.readableBytes
                }
                // Fewer than asked: the history was trimmed below here.
                guard below.count == want else { break }
                top = from + 1
            }
            page.publications = taken.reversed()
            return page
        }
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

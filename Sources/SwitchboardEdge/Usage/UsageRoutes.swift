import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// `GET /api/realtime/apps/{app}/usage?from=YYYY-MM-DD&to=YYYY-MM-DD` (admin token): per-day rows, totals, this month.
///
/// `to` defaults to today (UTC) and `from` to 29 days before `to`; a range is at most 366 days. Rows come from the
/// ledger plus what this node counted since its last flush, one per day of the range (zeros included), oldest first.
struct UsageRoutes: Sendable {
    let meter: UsageMeter
    let authorized: AdminAuthorization

    /// The longest range one request may ask for, in days.
    static let maxDays = 366

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/apps/:app/usage") { request, context in
            try await self.authorized(request, context) {
                try await self.usage(app: try context.parameters.require("app"), request)
            }
        }
    }

    /// The range a request asks for, checked; throws a 400 naming the problem.
    static func range(from: Substring?, to: Substring?, today: UsageDay) throws -> ClosedRange<UsageDay> {
        func day(_ name: String, _ text: Substring?) throws -> UsageDay? {
            guard let text else { return nil }
            guard let day = UsageDay(parsing: text) else { throw AdminError.badRequest("\(name) must be a date like 2026-12-01 (UTC)") }
            return day
        }
        let end = try day("to", to) ?? today
        let start = try day("from", from) ?? UsageDay(number: end.number - 29)
        guard start <= end else { throw AdminError.badRequest("from must not be after to") }
        guard end.number - start.number < Self.maxDays else { throw AdminError.badRequest("a range covers at most \(Self.maxDays) days") }
        return start...end
    }

    func usage(app: String, _ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let now = WallClock.milliseconds()
        let range = try Self.range(from: parameters["from"], to: parameters["to"], today: UsageDay(milliseconds: now))
        guard let month = self.meter.monthlyUsage(app: app) else { throw AdminError.notFound("no app has id \(app)") }
        var days = try await self.meter.ledger.days(app: app, from: range.lowerBound, to: range.upperBound)
        for (day, counts) in self.meter.bus.usage.pending(app: app) where range.contains(day) { days[day, default: UsageCounts()].merge(counts) }
        var totals = UsageCounts()
        for counts in days.values { totals.merge(counts) }
        let thisMonth = UsageDay(milliseconds: now).civil
        return JSONResponse.make { json in
            json.beginObject()
            json.member("app", app)
            json.member("from", range.lowerBound.description)
            json.member("to", range.upperBound.description)
            json.key("days")
            json.beginArray()
            for number in range.lowerBound.number...range.upperBound.number {
                let day = UsageDay(number: number)
                json.beginObject()
                json.member("date", day.description)
                Self.write(days[day] ?? UsageCounts(), to: &json)
                json.endObject()
            }
            json.endArray()
            json.key("totals")
            json.beginObject()
            Self.write(totals, to: &json)
            json.endObject()
            json.key("month")
            json.beginObject()
            json.member("month", String(UsageDay(year: thisMonth.year, month: thisMonth.month, day: 1)?.description.prefix(7) ?? ""))
            json.member("messages", month.messages)
            json.optionalMember("limit", month.limit)
            json.endObject()
            json.endObject()
        }
    }

    /// `messagesIn` (by protocol), `messagesInTotal`, `deliveries`, `deliveriesByProtocol`, `peakConnections`,
    /// `peakConnectionsByProtocol`.
    static func write(_ counts: UsageCounts, to json: inout JSONWriter) {
        func object(_ key: String, _ values: [String: Int]) {
            json.key(key)
            json.beginObject()
            for (name, count) in values.sorted(by: { $0.key < $1.key }) { json.member(name, count) }
            json.endObject()
        }
        object("messagesIn", counts.messagesIn)
        json.member("messagesInTotal", counts.messagesInTotal)
        json.member("deliveries", counts.deliveries)
        object("deliveriesByProtocol", counts.deliveriesByProtocol)
        json.member("peakConnections", counts.peakConnections)
        object("peakConnectionsByProtocol", counts.peakConnectionsByProtocol)
    }
}

/// A UTC calendar day as days since 1970-01-01: the unit usage is counted and stored in.
///
/// Plain arithmetic (no Foundation calendar), so the hot path can turn a timestamp into a day with two divisions.
public struct UsageDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01 (UTC).
    public var number: Int

    /// Wraps a day number.
    public init(number: Int) { self.number = number }

    /// The UTC day of `milliseconds` since the Unix epoch.
    public init(milliseconds: Int64) { self.number = Int((milliseconds >= 0 ? milliseconds : milliseconds - 86_399_999) / 86_400_000) }

    /// The day of a civil date; nil when the month or day is out of range (`2026-02-30`).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(year: year, month: month) else { return nil }
        // Days from civil (Howard Hinnant's algorithm): a year starting in March puts the leap day last.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        self.number = era * 146_097 + dayOfEra - 719_468
    }

    /// Parses `YYYY-MM-DD` (exactly that shape, years 1970 to 9999); nil for anything else.
    public init?(parsing text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), year >= 1970 else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The civil date of this day.
    public var civil: (year: Int, month: Int, day: Int) {
        let z = self.number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The month this day falls in, as `year * 12 + month - 1` (a number that grows by one per month).
    public var month: Int {
        let civil = self.civil
        return civil.year * 12 + civil.month - 1
    }

    /// The first day of this day's month.
    public var firstOfMonth: UsageDay {
        let civil = self.civil
        return UsageDay(number: self.number - civil.day + 1)
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        let civil = self.civil
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(civil.year, 4))-\(pad(civil.month, 2))-\(pad(civil.day, 2))"
    }

    public static func < (lhs: UsageDay, rhs: UsageDay) -> Bool { lhs.number < rhs.number }

    static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

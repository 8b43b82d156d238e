import SwitchboardCore
import TOMLKit

extension ConfigLoader {
    /// `price_monthly` (a number from 0 to 1,000,000) and `currency` (three capital letters, `EUR`) of a `[plans.NAME]`.
    static func pricing(_ table: Reader, into plan: inout Plan) throws(ConfigError) {
        if let entry = table.overlay[table.dotted("price_monthly")] {
            guard let value = Double(entry.text), (0...1_000_000).contains(value) else {
                throw ConfigError(key: entry.variable, problem: "must be a number from 0 to 1000000")
            }
            plan.priceMonthly = value
        } else if let value = table.table["price_monthly"] {
            guard let number = value.double ?? value.int.map(Double.init), (0...1_000_000).contains(number) else {
                throw ConfigError(key: table.key("price_monthly"), problem: "must be a number from 0 to 1000000")
            }
            plan.priceMonthly = number
        }
        if let currency = try table.string("currency") {
            guard currency.utf8.count == 3, currency.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
                throw ConfigError(key: table.key("currency"), problem: "must be a three-letter currency code like EUR")
            }
            plan.currency = currency
        }
    }

    /// `workspace_plan`, which must name a known plan.
    static func workspacePlan(_ top: Reader, plans: [String: Plan]) throws(ConfigError) -> String? {
        guard let name = try top.string("workspace_plan") else { return nil }
        guard plans[name] != nil else {
            let known = plans.keys.sorted().joined(separator: ", ")
            throw ConfigError(key: top.key("workspace_plan"), problem: "unknown plan \"\(name)\" (known: \(known))")
        }
        return name
    }
}

/// A config list of address ranges (`10.0.0.0/8`, `2001:db8::/32`, or a single address), as `trusted_proxies` and
/// `[limits] uncounted_addresses` give them.
public struct AddressRanges: Sendable, Equatable {
    /// An entry that is not an address or CIDR range.
    public struct InvalidEntry: Error, Sendable, Equatable {
        /// Where the entry is in the list.
        public var index: Int
        /// The entry as written.
        public var text: String
    }

    /// The ranges, in the config's order.
    public let networks: [IPNetwork]
    /// The single addresses among them (a /32 or /128), so a long list of blocked addresses costs one hash lookup.
    private let single: Set<IPAddress>
    /// The wider ranges, tried one by one.
    private let wider: [IPNetwork]

    /// No range: contains nothing.
    public init() { self.init(networks: []) }

    /// Parses each entry as a CIDR range or a single address.
    public init(_ entries: [String]) throws(InvalidEntry) {
        var networks: [IPNetwork] = []
        for (index, entry) in entries.enumerated() {
            guard let network = IPNetwork(entry) else { throw InvalidEntry(index: index, text: entry) }
            networks.append(network)
        }
        self.init(networks: networks)
    }

    /// 127.0.0.0/8 and ::1: what `uncounted_addresses` holds unless the config says otherwise.
    public static let loopback = AddressRanges(networks: [IPNetwork("127.0.0.0/8"), IPNetwork("::1/128")].compactMap { $0 })

    /// The given ranges, already parsed.
    public init(networks: [IPNetwork]) {
        self.networks = networks
        let isSingle = { (network: IPNetwork) in network.prefixLength == (network.address.isIPv4 ? 32 : 128) }
        self.single = Set(networks.filter(isSingle).map(\.address))
        self.wider = networks.filter { !isSingle($0) }
    }

    /// Whether the list is empty.
    public var isEmpty: Bool { self.networks.isEmpty }

    /// Whether `address` is in one of the ranges.
    public func contains(_ address: IPAddress) -> Bool {
        self.single.contains(address) || self.wider.contains { $0.contains(address) }
    }

    /// Whether `text` is an address in one of the ranges; nil or text that is not an address is in none.
    public func contains(text: String?) -> Bool {
        guard !self.isEmpty, let text, let address = IPAddress(text) else { return false }
        return self.contains(address)
    }

    /// Whether a request's client, or the trusted proxy it came through, is in one of the ranges (as `Caller` gives
    /// them; either may be nil).
    public func contains(client: String?, proxy: String?) -> Bool {
        self.contains(text: client) || self.contains(text: proxy)
    }
}

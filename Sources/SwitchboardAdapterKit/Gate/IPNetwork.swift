/// A CIDR range such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is the range of that address alone.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the range.
    public let address: IPAddress
    /// The prefix length in the address's own family (0–32 for IPv4, 0–128 for IPv6).
    public let prefixLength: Int

    /// Parses `address/prefix` or a bare address; nil when either part is malformed or host bits are set.
    ///
    /// Host bits are refused (`10.0.0.1/8`) rather than masked: such a line is usually a typo for a narrower range.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let width = address.isIPv4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber), parts[1].count <= 3,
                let parsed = Int(parts[1]), parsed <= width
            else { return nil }
            length = parsed
        }
        self.address = address
        self.prefixLength = length
        guard self.mask(address) == address else { return nil }
    }

    /// Whether `address` lies in the range; an IPv4 range matches IPv4-mapped IPv6 addresses too.
    public func contains(_ address: IPAddress) -> Bool {
        // An IPv4 prefix counts from bit 96, so the `::ffff:` marker is compared too: IPv6 addresses never match it.
        return self.mask(address) == self.address
    }

    public var description: String { "\(self.address)/\(self.prefixLength)" }

    /// `address` with the bits past the prefix cleared (IPv4 prefixes count from bit 96).
    private func mask(_ address: IPAddress) -> IPAddress {
        let bits = self.address.isIPv4 ? 96 + self.prefixLength : self.prefixLength
        let highMask: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : .max << UInt64(64 - bits))
        let lowMask: UInt64 = bits <= 64 ? 0 : (bits == 128 ? .max : .max << UInt64(128 - bits))
        return IPAddress(high: address.high & highMask, low: address.low & lowMask)
    }
}

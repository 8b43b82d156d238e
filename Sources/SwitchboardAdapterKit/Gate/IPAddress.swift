public import NIOCore

/// An IPv4 or IPv6 address as 128 bits, IPv4 held as `::ffff:a.b.c.d`, so one comparison serves both families.
///
/// Parsing is strict (no ports, brackets, zones or shorthand such as `10.1`), and `description` is one canonical
/// spelling, so `::1` and `0:0::1` are the same client to every per-address limit.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The high and low 64 bits, network order.
    let high: UInt64
    let low: UInt64

    /// True for an IPv4 address (IPv4-mapped IPv6 addresses included).
    public var isIPv4: Bool { self.high == 0 && self.low >> 32 == 0xffff }

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses `1.2.3.4` or an IPv6 literal such as `2001:db8::1` or `::ffff:192.0.2.1`; nil for anything else.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 45 else { return nil }
        if !bytes.contains(UInt8(ascii: ":")) {
            guard let value = Self.ipv4(bytes[...]) else { return nil }
            self.init(high: 0, low: 0xffff_0000_0000 | UInt64(value))
            return
        }
        guard let (high, low) = Self.ipv6(bytes) else { return nil }
        self.init(high: high, low: low)
    }

    /// The address of an IP socket address; nil for a Unix socket.
    public init?(_ socket: SocketAddress) {
        guard let text = socket.ipAddress else { return nil }
        self.init(text)
    }

    /// A dotted quad: four decimal numbers 0–255 without leading zeros.
    private static func ipv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }),
                part.count == 1 || part.first != UInt8(ascii: "0")
            else { return nil }
            let number = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - 0x30) }
            guard number <= 255 else { return nil }
            value = value << 8 | number
        }
        return value
    }

    /// Eight groups of 1–4 hex digits, one `::` standing for one or more zero groups, the last two optionally as a
    /// dotted quad.
    private static func ipv6(_ bytes: [UInt8]) -> (UInt64, UInt64)? {
        let groups: [UInt16]
        if let gap = Self.range(of: [0x3a, 0x3a], in: bytes) {
            guard Self.range(of: [0x3a, 0x3a], in: Array(bytes[gap.upperBound...])) == nil,
                let head = Self.groups(bytes[..<gap.lowerBound], allowQuad: false),
                let tail = Self.groups(bytes[gap.upperBound...], allowQuad: true), head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = Self.groups(bytes[...], allowQuad: true), all.count == 8 else { return nil }
            groups = all
        }
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    /// The 16-bit groups of a `:`-separated run (empty for an empty run); a final dotted quad counts as two groups.
    private static func groups(_ bytes: ArraySlice<UInt8>, allowQuad: Bool) -> [UInt16]? {
        guard !bytes.isEmpty else { return [] }
        let parts = bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if allowQuad, index == parts.count - 1, part.contains(UInt8(ascii: ".")) {
                guard let quad = Self.ipv4(part) else { return nil }
                groups += [UInt16(quad >> 16), UInt16(quad & 0xffff)]
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value: UInt16 = 0
            for byte in part {
                guard let digit = HexDigit.value(byte) else { return nil }
                value = value << 4 | UInt16(digit)
            }
            groups.append(value)
        }
        return groups
    }

    private static func range(of needle: [UInt8], in bytes: [UInt8]) -> Range<Int>? {
        guard bytes.count >= needle.count else { return nil }
        for start in 0...(bytes.count - needle.count) where Array(bytes[start..<(start + needle.count)]) == needle {
            return start..<(start + needle.count)
        }
        return nil
    }

    /// `1.2.3.4` for IPv4 (mapped ones included), else the compressed lowercase IPv6 form (RFC 5952).
    public var description: String {
        if self.isIPv4 {
            let value = UInt32(truncatingIfNeeded: self.low)
            return [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
        }
        let groups = (0..<8).map { index -> UInt16 in
            let word = index < 4 ? self.high : self.low
            return UInt16(truncatingIfNeeded: word >> UInt64(48 - 16 * (index % 4)))
        }
        // The longest run of two or more zero groups (the first of equals) becomes `::`.
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length, end - index >= 2 { best = (index, end - index) }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// What per-address limits count the address as: an IPv4 address itself, an IPv6 address by its /64. One client is
    /// given a whole /64, and would otherwise take a fresh address for every connection.
    public var limitKey: String {
        self.isIPv4 ? self.description : "\(IPAddress(high: self.high, low: 0))/64"
    }

    /// `limitKey` of `ip` when it parses, else `ip` as given.
    public static func limitKey(of ip: String) -> String { IPAddress(ip)?.limitKey ?? ip }

    /// Whether the address is loopback: 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        self.isIPv4 ? (self.low >> 24) & 0xff == 127 : self.high == 0 && self.low == 1
    }
}

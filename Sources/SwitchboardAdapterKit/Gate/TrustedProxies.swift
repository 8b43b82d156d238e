public import HTTPTypes
public import NIOCore

/// `[server] trusted_proxies`: the peers whose `X-Forwarded-For` or `Forwarded` header names the client.
///
/// A request from any other peer is that peer's own: its forwarding headers are ignored, so a client cannot pick the
/// address its rate limits, lockouts and security events are charged to. From a trusted peer the client is the
/// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (each trusted hop appended the address it
/// saw); `Forwarded: for=` is read the same way when no `X-Forwarded-For` is present. A malformed or hidden entry
/// stops the walk at the last address that a trusted proxy vouched for.
///
/// ```swift
/// let trusted = try TrustedProxies(["10.0.0.0/8", "::1/128"])
/// trusted.client(peer: try SocketAddress(ipAddress: "10.0.0.7", port: 4711), headers: ["X-Forwarded-For": "203.0.113.9"])
/// // "203.0.113.9"
/// ```
public struct TrustedProxies: Sendable, Equatable {
    /// A `trusted_proxies` entry that is not an address or CIDR range.
    public typealias InvalidEntry = AddressRanges.InvalidEntry

    /// The trusted ranges; empty trusts no one (the default).
    public let ranges: AddressRanges

    /// The trusted ranges, in the config's order.
    public var networks: [IPNetwork] { self.ranges.networks }

    /// Trusts no peer: every request's client is its TCP peer.
    public init() { self.ranges = AddressRanges() }

    /// Parses CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) or single addresses.
    public init(_ entries: [String]) throws(InvalidEntry) {
        self.ranges = try AddressRanges(entries)
    }

    /// Trusts the peers in `ranges`.
    public init(_ ranges: AddressRanges) { self.ranges = ranges }

    /// Whether no peer is trusted.
    public var isEmpty: Bool { self.ranges.isEmpty }

    /// Whether `address` is in one of the trusted ranges.
    public func contains(_ address: IPAddress) -> Bool {
        self.ranges.contains(address)
    }

    /// Whether the socket peer `peer` is a trusted proxy.
    public func trusts(_ peer: SocketAddress?) -> Bool {
        guard !self.isEmpty, let peer, let address = IPAddress(peer) else { return false }
        return self.contains(address)
    }

    /// The client's address for a request that came from `peer` with `headers`; the peer's own when it is not trusted.
    public func client(peer: SocketAddress?, headers: HTTPFields) -> String? {
        guard !self.isEmpty, let peer, let address = IPAddress(peer), self.contains(address) else { return peer?.ipAddress }
        let forwardedFor = headers[values: .xForwardedFor]
        let hops = forwardedFor.isEmpty ? ForwardedChain.forwarded(headers[values: .forwarded]) : ForwardedChain.forwardedFor(forwardedFor)
        return self.resolve(peer: address, hops: hops).description
    }

    /// The rightmost hop not in a trusted range, walking left from the trusted `peer`; a nil hop ends the walk.
    public func resolve(peer: IPAddress, hops: [IPAddress?]) -> IPAddress {
        var client = peer
        for hop in hops.reversed() {
            guard let hop else { return client }
            client = hop
            if !self.contains(hop) { return hop }
        }
        return client
    }
}

extension HTTPField.Name {
    /// `X-Forwarded-For`: the addresses a request came through, appended by each proxy.
    public static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// `Forwarded` (RFC 7239).
    public static let forwarded = HTTPField.Name("Forwarded")!
}

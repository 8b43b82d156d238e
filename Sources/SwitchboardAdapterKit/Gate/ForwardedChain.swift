/// The hops a request passed through, as `X-Forwarded-For` or `Forwarded` (RFC 7239) list them, oldest first.
///
/// Each hop is an address, or nil when its entry is malformed, obfuscated (`_hidden`) or `unknown`: the resolution
/// in `TrustedProxies` stops there rather than guess. Only the last `maxHops` entries are kept; the resolution
/// walks from the right and never needs more than the proxies one deploys.
public enum ForwardedChain {
    /// Entries kept from the right end of a header; a longer list is cut on the left.
    public static let maxHops = 32

    /// The hops of `X-Forwarded-For` values (several header lines are one list, in order).
    ///
    /// Entries are addresses, optionally with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`) as some proxies write.
    public static func forwardedFor(_ values: [String]) -> [IPAddress?] {
        var hops: [IPAddress?] = []
        for value in values {
            for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
                hops.append(Self.node(entry.trimmingSpaces()))
            }
        }
        return Array(hops.suffix(Self.maxHops))
    }

    /// The `for=` hops of `Forwarded` values; an element without `for` is a malformed hop.
    public static func forwarded(_ values: [String]) -> [IPAddress?] {
        var hops: [IPAddress?] = []
        for value in values {
            for element in Self.split(Substring(value), on: ",") {
                var node: IPAddress?? = nil
                for pair in Self.split(element, on: ";") {
                    guard let equals = pair.firstIndex(of: "=") else { continue }
                    let name = pair[..<equals].trimmingSpaces().lowercased()
                    guard name == "for" else { continue }
                    // A repeated `for` in one element is malformed.
                    node = node == nil ? .some(Self.node(Self.unquoted(pair[pair.index(after: equals)...].trimmingSpaces()))) : .some(nil)
                }
                hops.append(node ?? nil)
            }
        }
        return Array(hops.suffix(Self.maxHops))
    }

    /// An address from one entry: bare, `v4:port`, `[v6]` or `[v6]:port`; nil otherwise.
    static func node(_ entry: Substring) -> IPAddress? {
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else { return nil }
            let rest = entry[entry.index(after: close)...]
            guard rest.isEmpty || Self.isPort(rest) else { return nil }
            let inner = entry[entry.index(after: entry.startIndex)..<close]
            guard let address = IPAddress(inner), !address.isIPv4 || inner.contains(":") else { return nil }
            return address
        }
        let colons = entry.count(where: { $0 == ":" })
        if colons == 1, let colon = entry.firstIndex(of: ":") {
            guard Self.isPort(entry[colon...]) else { return nil }
            return IPAddress(entry[..<colon]).flatMap { $0.isIPv4 ? $0 : nil }
        }
        return IPAddress(entry)
    }

    /// Whether `text` is `:` and a port number (1–5 digits, at most 65535).
    private static func isPort(_ text: Substring) -> Bool {
        let digits = text.dropFirst()
        guard text.first == ":", (1...5).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return Int(digits).map { $0 <= 65535 } ?? false
    }

    /// A `Forwarded` value without its quotes (RFC 7230 quoted-string; `\x` stands for `x`).
    private static func unquoted(_ value: Substring) -> Substring {
        guard value.count >= 2, value.first == "\"", value.last == "\"" else { return value }
        let inner = value.dropFirst().dropLast()
        guard inner.contains("\\") else { return inner }
        var result = ""
        var escaped = false
        for character in inner {
            if !escaped && character == "\\" {
                escaped = true
                continue
            }
            escaped = false
            result.append(character)
        }
        return Substring(result)
    }

    /// `text` split on `separator` outside quoted strings.
    private static func split(_ text: Substring, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var quoted = false
        var escaped = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if quoted && character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if !quoted && character == separator {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        parts.append(text[start...])
        return parts
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs (optional whitespace in header lists).
    fileprivate func trimmingSpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}

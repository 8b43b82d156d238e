/// Decides whether a browser `Origin` may use an app: exact match, or `*.example.com` wildcards.
///
/// A pattern with a scheme (`https://*.example.com`) also requires that scheme; an empty list allows any origin.
public enum OriginPolicy {
    /// True when `origin` is allowed by `patterns`.
    public static func allows(_ origin: String, patterns: [String]) -> Bool {
        if patterns.isEmpty { return true }
        let origin = origin.lowercased()
        for pattern in patterns where matches(origin, pattern: pattern.lowercased()) { return true }
        return false
    }

    static func matches(_ origin: String, pattern: String) -> Bool {
        if pattern == "*" || pattern == origin { return true }
        let (patternScheme, patternHost) = split(pattern)
        let (originScheme, originHost) = split(origin)
        if let patternScheme, patternScheme != originScheme { return false }
        if patternHost == originHost { return true }
        guard patternHost.hasPrefix("*.") else { return false }
        let suffix = patternHost.dropFirst(1)  // ".example.com" (with any port the pattern names)
        return originHost.hasSuffix(suffix) && originHost.count > suffix.count
    }

    static func split(_ value: String) -> (scheme: String?, host: String) {
        guard let colon = value.firstIndex(of: ":"), value[colon...].hasPrefix("://") else { return (nil, value) }
        return (String(value[..<colon]), String(value[value.index(colon, offsetBy: 3)...]))
    }
}

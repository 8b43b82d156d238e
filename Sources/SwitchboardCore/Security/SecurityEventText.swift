/// Bounds the text a client controls before it is kept in a security event (memory, SQLite, the log).
///
/// A field is at most `maxBytes` bytes of UTF-8, cut at a character boundary and ending in a marker that says how
/// much was cut (`…[cut 59744 bytes]`); control characters, line and paragraph separators and bidi overrides are
/// written as escapes (`\n`, `\u001b`), so a log line stays one line and reads as what it is. Bounding is
/// idempotent: a bounded text is returned unchanged.
public enum SecurityEventText {
    /// The most bytes a bounded field holds, marker included.
    public static let maxBytes = 256

    /// `text` bounded: escaped, then cut to `maxBytes` with a marker when longer.
    public static func bound(_ text: String) -> String {
        let utf8 = text.utf8
        if utf8.count <= Self.maxBytes, !utf8.contains(where: Self.mayNeedEscape) { return text }
        var total = 0
        for scalar in text.unicodeScalars { total += Self.escapedCount(scalar) }
        if total <= Self.maxBytes { return Self.escaped(text.unicodeScalars, budget: total) }
        // The marker's digits are at most those of `total`, so reserving for them keeps the result within `maxBytes`.
        let keep = Self.maxBytes - Self.markerBytes(digits: String(total).utf8.count)
        let kept = Self.escaped(text.unicodeScalars, budget: keep)
        return kept + "…[cut \(total - kept.utf8.count) bytes]"
    }

    /// `text` bounded, or nil.
    public static func bound(_ text: String?) -> String? { text.map { Self.bound($0) } }

    /// Bytes of `…[cut N bytes]` when N has `digits` digits.
    static func markerBytes(digits: Int) -> Int { "…[cut ".utf8.count + digits + " bytes]".utf8.count }

    /// True for the first byte of everything `escape` may rewrite: C0 controls, DEL, and every non-ASCII character
    /// (checked again by scalar, so only C1 controls and the separators and overrides below are escaped).
    static func mayNeedEscape(_ byte: UInt8) -> Bool { byte < 0x20 || byte >= 0x7F }

    /// The escape written for `scalar`, or nil when it is written as it is.
    static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF:
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        default: return nil
        }
    }

    static func escapedCount(_ scalar: Unicode.Scalar) -> Int {
        if scalar.isASCII, scalar.value >= 0x20, scalar.value != 0x7F { return 1 }
        return Self.escape(scalar)?.utf8.count ?? UTF8.width(scalar)
    }

    /// The escaped text of `scalars`, stopping before the first character that would take it past `budget` bytes.
    static func escaped(_ scalars: String.UnicodeScalarView, budget: Int) -> String {
        var result = String.UnicodeScalarView()
        var used = 0
        for scalar in scalars {
            if let escape = Self.escape(scalar) {
                guard used + escape.utf8.count <= budget else { break }
                result.append(contentsOf: escape.unicodeScalars)
                used += escape.utf8.count
            } else {
                let width = UTF8.width(scalar)
                guard used + width <= budget else { break }
                result.append(scalar)
                used += width
            }
        }
        return String(result)
    }
}

/// What a message's event name may be, whichever protocol published it: 1 to 200 bytes (Pusher's limit) with no
/// control characters.
///
/// A line break in a name cannot cross every protocol intact: an SSE `event:` line cannot hold one, so the same message
/// would reach SSE consumers under another name than everyone else.
public enum EventName {
    /// The longest name, in UTF-8 bytes.
    public static let maxBytes = 200

    /// Whether `name` may name a message.
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= Self.maxBytes else { return false }
        return !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// What a refusal says.
    public static let rule = "event names are 1 to \(maxBytes) bytes with no control characters"
}

/// The kind of a channel, which its name decides in every protocol.
public enum ChannelKind: Sendable, Equatable {
    case `public`, `private`, presence, privateEncrypted, cache

    /// The kind named by `channel`'s prefix.
    public init(channel: String) {
        if channel.hasPrefix("private-encrypted-") {
            self = .privateEncrypted
        } else if channel.hasPrefix("private-") || channel.hasPrefix("$") {
            // `$` is Centrifugo's private prefix: clients migrated from it keep their channel names.
            self = .private
        } else if channel.hasPrefix("presence-") {
            self = .presence
        } else if channel.hasPrefix("cache-") {
            self = .cache
        } else {
            self = .public
        }
    }

    /// Private, presence and encrypted channels need proof of authorization.
    public var isProtected: Bool {
        switch self {
        case .private, .presence, .privateEncrypted: true
        case .public, .cache: false
        }
    }
}

/// Whether a channel name is acceptable in every protocol: 1–200 characters from `[A-Za-z0-9_\-=@,.;:#]`, after an
/// optional leading `$` (a private channel, as Centrifugo names them).
public enum ChannelName {
    /// The longest channel name accepted.
    public static let maxLength = 200

    /// True when `name` is a valid channel name.
    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        for byte in utf8.dropFirst(utf8.first == UInt8(ascii: "$") && utf8.count > 1 ? 1 : 0) {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "="), UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: "."),
                UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "#"):
                continue
            default:
                return false
            }
        }
        return true
    }
}

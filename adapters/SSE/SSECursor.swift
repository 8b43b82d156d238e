/// The `id:` of an SSE stream: the last offset of every channel in it, `A=12;B=40`.
///
/// A standard EventSource sends it back as `Last-Event-ID`, so one header resumes every channel.
/// `%`, `;` and `=` in channel names are percent-encoded.
public struct SSECursor: Sendable, Equatable {
    /// Last offset seen per channel.
    public private(set) var offsets: [String: UInt64]
    private var order: [String]
    /// `order` as the text writes it, encoded once: the text is written before every message.
    private var encoded: [String]

    /// A cursor over `channels` in that order, with known offsets.
    public init(channels: [String], offsets: [String: UInt64] = [:]) {
        self.order = channels
        self.encoded = channels.map(Self.encode)
        self.offsets = offsets.filter { channels.contains($0.key) }
    }

    /// Parses a `Last-Event-ID` value; unknown or malformed parts are ignored.
    public static func parse(_ text: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for part in text.split(separator: ";") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2, let offset = UInt64(pieces[1]) else { continue }
            result[decode(String(pieces[0]))] = offset
        }
        return result
    }

    /// Records that `channel` reached `offset`.
    public mutating func advance(_ channel: String, to offset: UInt64) {
        if let current = self.offsets[channel], current >= offset { return }
        self.offsets[channel] = offset
    }

    /// The cursor as an `id:` value.
    public var text: String {
        zip(self.order, self.encoded).compactMap { channel, name in self.offsets[channel].map { "\(name)=\($0)" } }.joined(separator: ";")
    }

    static func encode(_ channel: String) -> String {
        var out = ""
        for character in channel {
            switch character {
            case "%": out += "%25"
            case ";": out += "%3B"
            case "=": out += "%3D"
            default: out.append(character)
            }
        }
        return out
    }

    static func decode(_ text: String) -> String {
        text.replacing("%3B", with: ";").replacing("%3b", with: ";").replacing("%3D", with: "=").replacing("%3d", with: "=")
            .replacing("%25", with: "%")
    }
}

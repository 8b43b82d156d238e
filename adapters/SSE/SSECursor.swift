public import NIOCore

/// The `id:` of an SSE stream: the last offset of every channel in it, `A=12;B=40`.
///
/// A standard EventSource sends it back as `Last-Event-ID`, so one header resumes every channel.
/// `%`, `;` and `=` in channel names are percent-encoded.
public struct SSECursor: Sendable, Equatable {
    /// The stream's channels in order, and each one's last offset seen: a stream has few channels, and the cursor is
    /// advanced and written before every message of every stream, so arrays serve better than a dictionary.
    private var order: [String]
    private var positions: [UInt64?]
    /// `order` as the text writes it, encoded once.
    private var encoded: [String]

    /// A cursor over `channels` in that order (a channel named twice counts once), with known offsets.
    public init(channels: [String], offsets: [String: UInt64] = [:]) {
        var seen = Set<String>()
        self.order = channels.filter { seen.insert($0).inserted }
        self.encoded = self.order.map(Self.encode)
        self.positions = self.order.map { offsets[$0] }
    }

    /// Last offset seen per channel.
    public var offsets: [String: UInt64] {
        var offsets: [String: UInt64] = [:]
        for (channel, position) in zip(self.order, self.positions) where position != nil { offsets[channel] = position }
        return offsets
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
        guard let index = self.order.firstIndex(of: channel) else { return }
        if let current = self.positions[index], current >= offset { return }
        self.positions[index] = offset
    }

    /// The cursor as an `id:` value.
    public var text: String {
        var buffer = ByteBuffer()
        self.write(into: &buffer)
        return String(buffer: buffer)
    }

    /// Writes the `id:` value into `buffer`, with no string built on the way.
    public func write(into buffer: inout ByteBuffer) {
        var first = true
        for (name, position) in zip(self.encoded, self.positions) {
            guard let position else { continue }
            if !first { buffer.writeStaticString(";") }
            first = false
            buffer.writeString(name)
            buffer.writeStaticString("=")
            buffer.writeString(String(position))  // a small string: no allocation
        }
    }

    /// Whether any channel has an offset yet (a stream with none writes no `id:`).
    public var isEmpty: Bool { !self.positions.contains { $0 != nil } }

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

import SSE

/// The SSE stream's resume cursor (`SSECursor`), which a client sends back as `Last-Event-ID`.
enum SSECursorFuzzCheck {
    static let target = FuzzTarget(
        name: "sse-cursor",
        maxLength: 1024,
        summary: "SSECursor: parsing any Last-Event-ID is total and its canonical form re-parses to the same offsets; a cursor "
            + "over valid channel names (plus `%`) built from the input round-trips through its `id:` text, offsets never go back",
        check: { input throws(FuzzFailure) in try check(input) }
    )

    /// Channel-name characters (ChannelName.isValid), `%` which the cursor escapes too.
    static let alphabet = Array("abcXYZ019_-=@,.;:#%")

    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        // Any header value: parsing is total; what it yields (ASCII names) comes back from the cursor's text.
        let parsed = SSECursor.parse(String(decoding: input, as: UTF8.self))
        let names = parsed.keys.filter { name in name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }.sorted()
        let canonical = SSECursor(channels: names, offsets: parsed)
        try require(
            SSECursor.parse(canonical.text) == canonical.offsets,
            "\(canonical.text.debugDescription) re-parses to \(SSECursor.parse(canonical.text)), not \(canonical.offsets)"
        )

        // A cursor the stream builds: channels from the input, advanced in the input's order.
        var reader = FuzzReader(input)
        let channels = (0..<(Int(reader.byte()) % 6 + 1)).map { _ in reader.word(from: alphabet, limit: 12) }
        var cursor = SSECursor(channels: channels)
        var highest: [String: UInt64] = [:]
        while !reader.isEmpty {
            let channel = channels[Int(reader.byte()) % channels.count]
            let offset = reader.byte() < 16 ? reader.uint64() : UInt64(reader.byte())
            cursor.advance(channel, to: offset)
            highest[channel] = max(highest[channel] ?? 0, offset)
        }
        try require(cursor.offsets == highest, "offsets \(cursor.offsets) after advancing, expected the highest \(highest)")
        for character in cursor.text where character == "\r" || character == "\n" {
            throw FuzzFailure("the id text \(cursor.text.debugDescription) holds a line break")
        }
        let back = SSECursor.parse(cursor.text)
        try require(back == highest, "\(cursor.text.debugDescription) parses to \(back), not \(highest)")
    }
}

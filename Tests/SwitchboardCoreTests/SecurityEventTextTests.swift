import Testing

@testable import SwitchboardCore

@Suite struct SecurityEventTextTests {
    @Test func shortPlainTextIsKeptAsItIs() {
        #expect(SecurityEventText.bound("x: invalid channel name") == "x: invalid channel name")
        #expect(SecurityEventText.bound("café ☕️ ok") == "café ☕️ ok")
    }

    @Test func longTextIsCutTo256BytesAndMarkedWithWhatWasCut() {
        let long = String(repeating: "a", count: 60_000)
        let bounded = SecurityEventText.bound(long)
        #expect(bounded.utf8.count <= SecurityEventText.maxBytes)
        #expect(bounded.hasPrefix("aaaa"))
        let kept = bounded.prefix { $0 == "a" }.count
        #expect(bounded.hasSuffix("…[cut \(60_000 - kept) bytes]"))
        #expect(kept > 200)
    }

    @Test func cutsFallOnCharacterBoundaries() {
        // Two-, three- and four-byte characters in every alignment against the cut.
        for prefix in 0..<4 {
            for character in ["é", "☕", "😀"] {
                let text = String(repeating: "x", count: prefix) + String(repeating: character, count: 200)
                let bounded = SecurityEventText.bound(text)
                #expect(bounded.utf8.count <= SecurityEventText.maxBytes)
                // A String rebuilt from the bytes is the same: no character was split.
                #expect(String(validating: Array(bounded.utf8), as: UTF8.self) == bounded)
                let kept = bounded[..<bounded.firstIndex(of: "…")!]
                #expect(kept.allSatisfy { $0 == "x" || String($0) == character })
                #expect(bounded.hasSuffix("…[cut \(text.utf8.count - kept.utf8.count) bytes]"))
            }
        }
    }

    @Test func controlCharactersAreEscapedSoALogLineStaysOneLine() {
        let bounded = SecurityEventText.bound("a\nb\r\nc\td\u{1B}[31m\u{7F}\u{85}\u{2028}\u{202E}z")
        #expect(bounded == "a\\nb\\r\\nc\\td\\u001b[31m\\u007f\\u0085\\u2028\\u202ez")
        #expect(!bounded.unicodeScalars.contains { $0.properties.generalCategory == .control })
    }

    @Test func escapesCountTowardTheBound() {
        let bounded = SecurityEventText.bound(String(repeating: "\n", count: 500))
        #expect(bounded.utf8.count <= SecurityEventText.maxBytes)
        #expect(bounded.hasPrefix("\\n\\n"))
        #expect(bounded.hasSuffix("…[cut \(1000 - bounded.prefix { $0 != "…" }.utf8.count) bytes]"))
    }

    @Test func boundingIsIdempotent() {
        for text in [String(repeating: "é\n", count: 1000), "plain", String(repeating: "z", count: 256), String(repeating: "z", count: 257)] {
            let once = SecurityEventText.bound(text)
            #expect(SecurityEventText.bound(once) == once)
        }
        #expect(SecurityEventText.bound(String(repeating: "z", count: 256)).utf8.count == 256)
    }

    @Test func everyFieldAClientControlsIsBoundedWhenTheEventIsMade() {
        let huge = String(repeating: "h", count: 10_000) + "\n"
        var event = SecurityEvent(time: 1, app: huge, kind: .badRequest, clientIP: huge, origin: huge, userAgent: huge, detail: huge)
        for field in [event.app, event.clientIP, event.origin, event.userAgent, event.detail] {
            #expect(field.map { $0.utf8.count <= SecurityEventText.maxBytes && $0.contains("…[cut ") } == true)
        }
        // Set later, a field is bounded too.
        event.detail = huge
        event.userAgent = "line\nbreak"
        #expect(event.detail.utf8.count <= SecurityEventText.maxBytes)
        #expect(event.userAgent == "line\\nbreak")
    }
}

import NIOCore
import Testing

@testable import SwitchboardAdapterKit

/// The JSON scanner refuses every string that is not well-formed UTF-8, wherever it sits in the document.
@Suite struct JSONStrictUTF8Tests {
    func parse(_ bytes: [UInt8]) throws -> JSONObject { try JSONObject(parsing: ByteBuffer(bytes: bytes)) }

    /// `{"channel":"x","data":{"k":["<bad>"]}}` with `bad` in a nested value the scanner only skips.
    func nested(_ bad: [UInt8]) -> [UInt8] { Array(#"{"channel":"x","data":{"k":[""#.utf8) + bad + Array(#""]}}"#.utf8) }

    static let invalidSequences: [[UInt8]] = [
        [0xFF, 0xFE],  // bytes that never occur in UTF-8
        [0x80],  // a lone continuation byte
        [0xC3],  // a truncated two-byte sequence
        [0xE2, 0x82],  // a truncated three-byte sequence
        [0xC0, 0xAF],  // overlong "/"
        [0xE0, 0x80, 0xAF],  // overlong "/" in three bytes
        [0xF0, 0x80, 0x80, 0xAF],  // overlong "/" in four bytes
        [0xED, 0xA0, 0x80],  // U+D800 encoded in UTF-8
        [0xED, 0xBF, 0xBF],  // U+DFFF encoded in UTF-8
        [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
        [0xF8, 0x88, 0x80, 0x80, 0x80],  // a five-byte form
    ]

    @Test(arguments: invalidSequences) func invalidUTF8IsRefusedInKeysValuesAndNestedValues(_ bad: [UInt8]) {
        #expect(throws: JSONObject.Error.self) { try parse(Array(#"{"a":""#.utf8) + bad + Array(#""}"#.utf8)) }
        #expect(throws: JSONObject.Error.self) { try parse(Array(#"{""#.utf8) + bad + Array(#"":1}"#.utf8)) }
        #expect(throws: JSONObject.Error.self) { try parse(nested(bad)) }
        #expect(throws: JSONObject.Error.self) { try parse(Array(#"{"d":{""#.utf8) + bad + Array(#"":1}}"#.utf8)) }
    }

    @Test func theErrorSaysWhereTheBadBytesAre() {
        #expect(throws: JSONObject.Error(message: "invalid UTF-8 at offset 6")) { try parse(Array(#"{"a":""#.utf8) + [0xFF, 0xFE] + [0x22, 0x7D]) }
    }

    @Test func loneSurrogateEscapesAreRefused() {
        for text in [
            #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#, #"{"a":"\ud800x"}"#, #"{"a":"\ud800\u0041"}"#, #"{"a":"\ud83d\ud83d"}"#, #"{"\udfff":1}"#,
        ] {
            #expect(throws: JSONObject.Error.self, "\(text)") { try JSONObject(parsing: ByteBuffer(string: text)) }
        }
        #expect(throws: JSONObject.Error.self) { try parse(nested(Array(#"\ude00"#.utf8))) }
    }

    @Test func wellFormedTextOfEveryLengthIsAccepted() throws {
        let text = "aé☕😀\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\u{E000}"
        let object = try JSONObject(parsing: ByteBuffer(string: "{\"\(text)\":\"\(text)\",\"d\":{\"k\":[\"\(text)\"]}}"))
        #expect(object.string(text) == text)
        #expect(object.raw("d").map { String(buffer: $0) } == "{\"k\":[\"\(text)\"]}")
        let pair = try JSONObject(parsing: ByteBuffer(string: #"{"s":"\ud83d\ude00\uDBFF\uDFFF"}"#))
        #expect(pair.string("s") == "\u{1F600}\u{10FFFF}")
    }

    @Test func validationAgreesWithTheStandardLibraryOnEveryShortSequence() {
        // Every one- and two-byte input, and three-byte inputs around the tricky leads.
        var inputs: [[UInt8]] = (0...255).map { [UInt8($0)] }
        for a in 0...255 { for b in stride(from: 0, through: 255, by: 1) { inputs.append([UInt8(a), UInt8(b)]) } }
        for a: UInt8 in [0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5] {
            for b in stride(from: 0x70, through: 0xC0, by: 1) { for c: UInt8 in [0x7F, 0x80, 0xBF, 0xC0] { inputs.append([a, UInt8(b), c, 0x80]) } }
        }
        for input in inputs {
            let expected = String(validating: input, as: UTF8.self) != nil
            #expect(UTF8Validation.isValid(ByteBuffer(bytes: input)) == expected, "\(input)")
        }
    }

    @Test func longAsciiRunsWithOneBadByteAreRefused() {
        for position in [0, 7, 8, 9, 63, 64, 99] {
            var bytes = [UInt8](repeating: 0x61, count: 100)
            bytes[position] = 0xFF
            #expect(!UTF8Validation.isValid(ByteBuffer(bytes: bytes)))
        }
        #expect(UTF8Validation.isValid(ByteBuffer(bytes: [UInt8](repeating: 0x61, count: 100))))
    }
}

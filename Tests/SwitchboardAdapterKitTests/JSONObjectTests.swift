import NIOCore
import Testing

@testable import SwitchboardAdapterKit

@Suite struct JSONObjectTests {
    func parse(_ text: String) throws -> JSONObject { try JSONObject(parsing: ByteBuffer(string: text)) }

    @Test func membersKeepTheirRawBytes() throws {
        let object = try parse(#"{"action":"publish","data": {"b": [1, 2.5e3, "x"], "a": null} ,"n":-0.5}"#)
        #expect(object.string("action") == "publish")
        #expect(object.raw("data").map { String(buffer: $0) } == #"{"b": [1, 2.5e3, "x"], "a": null}"#)
        #expect(object.double("n") == -0.5)
        #expect(object.keys == ["action", "data", "n"])
    }

    @Test func stringEscapesAreDecoded() throws {
        let object = try parse(#"{"s":"a\"b\\c\nd\u00e9\ud83d\ude00"}"#)
        #expect(object.string("s") == "a\"b\\c\nd\u{e9}\u{1F600}")
    }

    @Test func invalidDocumentsAreRejected() {
        for text in [
            "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":tru}", "{\"a\":01}", "{\"a\":\"x}", "{\"a\":1} x", "{a:1}",
            "{\"a\":\"\u{01}\"}", "{\"a\":1.}", "{\"a\":\"\\q\"}",
        ] {
            #expect(throws: JSONObject.Error.self, "\(text)") { try parse(text) }
        }
    }

    @Test func deepNestingIsRejected() {
        let deep = "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(throws: JSONObject.Error.self) { try parse(deep) }
    }

    @Test func typedAccessorsReturnNilForOtherTypes() throws {
        let object = try parse(#"{"n":5,"s":"7","b":true,"list":["a","b"],"mixed":["a",1]}"#)
        #expect(object.integer("n") == 5)
        #expect(object.integer("s") == 7)
        #expect(object.string("n") == nil)
        #expect(object.bool("b") == true)
        #expect(object.strings("list") == ["a", "b"])
        #expect(object.strings("mixed") == nil)
    }

    @Test func writerEscapesWhatJSONRequires() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.member("text", "quote\" backslash\\ newline\n tab\t bell\u{07} é")
        writer.member("n", 42)
        writer.key("list")
        writer.beginArray()
        writer.string("a")
        writer.null()
        writer.endArray()
        writer.endObject()
        #expect(String(buffer: writer.buffer) == #"{"text":"quote\" backslash\\ newline\n tab\t bell\u0007 é","n":42,"list":["a",null]}"#)
    }
}

@Suite("JSON writer numbers")
struct JSONWriterNumberTests {
    @Test func wholeNumbersHaveNoFractionAndNonFiniteOnesAreNull() {
        var json = JSONWriter()
        json.beginArray()
        for value in [12.0, 0.5, -3.25, .infinity, .nan] { json.number(value) }
        json.endArray()
        #expect(String(buffer: json.buffer) == "[12,0.5,-3.25,null,null]")
    }
}

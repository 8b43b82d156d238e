import NIOCore
import Testing

@testable import SwitchboardCore

@Suite struct KitPayloadTests {
    func read(_ text: String) -> KitPayload? { KitPayload(ByteBuffer(string: text)) }

    @Test func readsTopLevelMembersAndKeepsNestedOnesAsBytes() throws {
        let payload = try #require(
            self.read(#" {"status":"in_transit","lat":52.5,"n":-1e2,"ok":true,"no":null,"list":[1,[2,3],{"a":[]}],"body":{"v":1,"ct":"x"}} "#)
        )
        #expect(payload.string("status") == "in_transit")
        #expect(payload.number("lat") == 52.5)
        #expect(payload.number("n") == -100)
        #expect(payload.members["ok"] == .bool(true))
        #expect(payload.members["no"] == .null)
        #expect(payload.arrayCount("list") == 3)
        #expect(payload.object("body")?.string("ct") == "x")
        #expect(payload.string("lat") == nil)
    }

    @Test func unescapesStringsIncludingSurrogatePairs() throws {
        let payload = try #require(self.read(#"{"k\u0065y":"a\"b\\c\n\u00e9\ud83d\ude00"}"#))
        #expect(payload.string("key") == "a\"b\\c\né😀")
    }

    @Test func refusesWhatIsNotOneWellFormedObject() {
        for text in [
            "", "[]", "\"text\"", "42", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":[1,]}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\u{1}\"}",
            "{\"a\":tru}", "{\"a\":1e999}", "{a:1}", String(repeating: "{\"a\":", count: 100) + "1" + String(repeating: "}", count: 100),
        ] {
            #expect(self.read(text) == nil, "\(text.prefix(40))")
        }
    }
}

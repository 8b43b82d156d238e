import NIOCore
import Pusher
import Testing

@Suite struct JSONArrayElementsTests {
    func split(_ text: String) -> [String]? { JSONArrayElements.split(ByteBuffer(string: text))?.map { String(buffer: $0) } }

    @Test func splitsTopLevelElements() {
        #expect(self.split(#"[{"a":[1,2]}, {"b":"x,]}"} ,3 , "s\"]"]"#) == [#"{"a":[1,2]}"#, #"{"b":"x,]}"}"#, "3", #""s\"]""#])
        #expect(self.split(" [ ] ") == [])
        #expect(self.split("{}") == nil)
    }
}

import NIOCore
import SwitchboardAdapterKit
import Testing

@Suite struct JSONArrayElementsTests {
    func split(_ text: String, limit: Int = .max) -> [String]? {
        JSONArrayElements.split(ByteBuffer(string: text), limit: limit)?.map { String(buffer: $0) }
    }

    @Test func splitsTopLevelElements() {
        #expect(self.split(#"[{"a":[1,2]}, {"b":"x,]}"} ,3 , "s\"]"]"#) == [#"{"a":[1,2]}"#, #"{"b":"x,]}"}"#, "3", #""s\"]""#])
        #expect(self.split(" [ ] ") == [])
        #expect(self.split("{}") == nil)
        #expect(self.split(#" [ {"a":"],[\"{"} , [1,[2]] ,"x" ,{} ] "#) == [#"{"a":"],[\"{"}"#, "[1,[2]]", #""x""#, "{}"])
    }

    @Test func stopsAtTheLimitWithoutReadingTheRest() {
        #expect(self.split("[1, 2, 3, 4]", limit: 2) == ["1", "2"])
        #expect(self.split("[1, 2]", limit: 3) == ["1", "2"])
    }

    @Test func anEmptyElementOrAnUnclosedArrayIsNotAnArray() {
        #expect(self.split("[1,,2]") == nil)
        #expect(self.split("[1, 2") == nil)
    }
}

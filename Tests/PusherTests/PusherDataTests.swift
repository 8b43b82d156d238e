import NIOCore
import Pusher
import SwitchboardAdapterKit
import Testing

/// The data mapping of DESIGN.md: Pusher strings in and out, JSON on the bus.
@Suite struct PusherDataTests {
    func wire(_ bus: String) -> String {
        var json = JSONWriter()
        PusherData.writeWire(ByteBuffer(string: bus), to: &json)
        return String(buffer: json.buffer)
    }

    @Test func aStringHoldingJSONGoesOnTheBusAsThatJSON() {
        #expect(String(buffer: PusherData.busData(string: #"{"some":"data"}"#)) == #"{"some":"data"}"#)
        #expect(String(buffer: PusherData.busData(string: " [1,2] ")) == "[1,2]")
        #expect(String(buffer: PusherData.busData(string: "42")) == "42")
    }

    @Test func anyOtherStringGoesOnTheBusAsAJSONString() {
        #expect(String(buffer: PusherData.busData(string: "hello")) == #""hello""#)
        #expect(String(buffer: PusherData.busData(string: "")) == #""""#)
        #expect(String(buffer: PusherData.busData(string: "{not json")) == #""{not json""#)
        #expect(String(buffer: PusherData.busData(string: "say \"hi\"")) == #""say \"hi\"""#)
    }

    @Test func aNonStringValueGoesOnTheBusAsItIs() {
        let raw = ByteBuffer(string: #"{"a":1}"#)
        #expect(String(buffer: PusherData.busData(raw: raw, content: nil)) == #"{"a":1}"#)
    }

    @Test func busJSONStringsAreSentAsTheirContent() {
        #expect(self.wire(#""hello""#) == #""hello""#)
    }

    @Test func aBusStringThatReadsAsJSONIsSentQuotedSoClientsKeepItAString() {
        #expect(self.wire(#""123""#) == #""\"123\"""#)
        #expect(self.wire(#""{\"a\":1}""#) == #""\"{\\\"a\\\":1}\"""#)
        #expect(self.wire(#"" true ""#) == #""\" true \"""#)
        #expect(PusherData.wireString(ByteBuffer(string: #""null""#)) == #""null""#)
        #expect(PusherData.wireString(ByteBuffer(string: #""nullish""#)) == "nullish")
    }

    @Test func otherBusJSONIsSentAsItsText() {
        #expect(self.wire(#"{"text":"hi"}"#) == #""{\"text\":\"hi\"}""#)
        #expect(self.wire("42") == #""42""#)
        #expect(self.wire("null") == #""null""#)
    }

    @Test func aPusherStringSurvivesTheRoundTripByteForByte() {
        for original in [
            #"{"some":"data"}"#, "plain text", #""123""#, #""{\"a\":1}""#, #""quoted" "twice""#, #"{"nonce":"abc=","ciphertext":"xyz+/="}"#,
            "[1, 2,  3]", "é ✓",
        ] {
            var json = JSONWriter()
            PusherData.writeWire(PusherData.busData(string: original), to: &json)
            let decoded = try? JSONObject(parsing: ByteBuffer(string: "{\"v\":" + String(buffer: json.buffer) + "}"))
            #expect(decoded?.string("v") == original)
            #expect(PusherData.wireString(PusherData.busData(string: original)) == original)
        }
    }

    @Test func validJSONIsRecognised() {
        #expect(PusherData.isJSON("{}"))
        #expect(PusherData.isJSON("\"x\""))
        #expect(PusherData.isJSON("true"))
        #expect(!PusherData.isJSON("{"))
        #expect(!PusherData.isJSON("1 2"))
        #expect(!PusherData.isJSON(""))
    }
}

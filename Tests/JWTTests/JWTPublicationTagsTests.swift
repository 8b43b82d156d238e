import NIOCore
import SwitchboardAdapterKit
import Testing

@testable import JWT

@Suite struct JWTPublicationTagsTests {
    static func tags(_ body: String) throws(JWTServerAPI.Failure) -> JWTPublicationTags {
        try JWTPublicationTags(parsing: try! JSONObject(parsing: ByteBuffer(string: body)))
    }

    static func refusal(_ body: String) -> Int? {
        do {
            _ = try Self.tags(body)
            return nil
        } catch {
            return error.code.code
        }
    }

    @Test func eventBecomesTheBusEventAndTheOtherTagsRideAlong() throws {
        let tags = try Self.tags(#"{"channel":"c","data":1,"tags":{"event":"chat","k":"v","region":"eu"}}"#)
        #expect(tags.event == "chat" && tags.others == ["k": "v", "region": "eu"])
        #expect(try Self.tags(#"{"name":"n","tags":null}"#) == JWTPublicationTags(event: "n"))
        #expect(try Self.tags(#"{"name":"n","tags":{"event":"e"}}"#).event == "e")
        #expect(try Self.tags(#"{}"#) == JWTPublicationTags(event: nil))
    }

    /// Anyone with the API key can send tags: anything but a small object of strings is a bad request (107).
    @Test func tagsThatAreNotABoundedObjectOfStringsAre107() {
        let many = (0...JWTPublicationTags.maxCount).map { #""t\#($0)":"v""# }.joined(separator: ",")
        let long = String(repeating: "x", count: JWTPublicationTags.maxBytes)
        for body in [
            #"{"tags":["k","v"]}"#, #"{"tags":"k"}"#, #"{"tags":{"k":1}}"#, #"{"tags":{"k":{"v":"w"}}}"#, #"{"tags":{"event":null}}"#,
            #"{"tags":{\#(many)}}"#, #"{"tags":{"k":"\#(long)"}}"#,
        ] {
            #expect(Self.refusal(body) == 107, "\(body.prefix(60))")
        }
        let fits = (1..<JWTPublicationTags.maxCount).map { #""t\#($0)":"v""# }.joined(separator: ",")
        #expect(Self.refusal(#"{"tags":{"event":"e",\#(fits)}}"#) == nil)
    }
}

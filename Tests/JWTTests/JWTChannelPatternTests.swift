import Testing

@testable import JWT

/// The server API's `channels` pattern, read as Centrifugo reads it (gobwas/glob without separators).
struct JWTChannelPatternTests {
    func matched(_ pattern: String, _ names: [String]) throws -> [String] {
        let compiled = try JWTChannelPattern(pattern)
        return names.filter { compiled.matches($0) }
    }

    let names = ["chat:1", "chat:12", "chat:a", "news", "news:eu", "a*b", "ab"]

    @Test func starAndQuestionMarkMatchAnyRunAndOneCharacter() throws {
        #expect(try self.matched("chat:*", self.names) == ["chat:1", "chat:12", "chat:a"])
        #expect(try self.matched("chat:?", self.names) == ["chat:1", "chat:a"])
        #expect(try self.matched("*:*", self.names) == ["chat:1", "chat:12", "chat:a", "news:eu"])
        #expect(try self.matched("news", self.names) == ["news"])
        #expect(try self.matched("*", self.names) == self.names)
    }

    @Test func setsRangesAndTheirNegation() throws {
        #expect(try self.matched("chat:[0-9]", self.names) == ["chat:1"])
        #expect(try self.matched("chat:[!0-9]", self.names) == ["chat:a"])
        #expect(try self.matched("chat:[1a]*", self.names) == ["chat:1", "chat:12", "chat:a"])
    }

    @Test func alternativesAndEscapes() throws {
        #expect(try self.matched("{chat,news}:*", self.names) == ["chat:1", "chat:12", "chat:a", "news:eu"])
        #expect(try self.matched("news{,:eu}", self.names) == ["news", "news:eu"])
        #expect(try self.matched(#"a\*b"#, self.names) == ["a*b"])
    }

    @Test func malformedOrOversizedPatternsAreRefused() {
        for pattern in ["chat:[0-9", "{chat,news", "[]", "[z-a]", #"chat\"#] {
            #expect(throws: JWTChannelPattern.Failure.self) { try JWTChannelPattern(pattern) }
        }
        #expect(throws: JWTChannelPattern.Failure.tooLarge) { try JWTChannelPattern(String(repeating: "a", count: 257)) }
        // Seven two-way choices spell out 128 patterns: past the bound, refused before any channel is read.
        #expect(throws: JWTChannelPattern.Failure.tooLarge) { try JWTChannelPattern(String(repeating: "{a,b}", count: 7)) }
    }

    @Test func aPatternOfManyStarsStaysLinearOnALongName() throws {
        let name = String(repeating: "a", count: 200)
        #expect(try JWTChannelPattern(String(repeating: "*a", count: 100) + "b").matches(name) == false)
        #expect(try JWTChannelPattern(String(repeating: "*a", count: 100)).matches(name))
    }
}

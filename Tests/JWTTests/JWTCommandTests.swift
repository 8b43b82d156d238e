import NIOCore
import SwitchboardAdapterKit
import Testing

@testable import JWT

@Suite struct JWTCommandTests {
    @Test func oneFrameCarriesSeveralNewlineSeparatedCommands() throws {
        let frame = ByteBuffer(string: "{\"id\":1,\"connect\":{\"token\":\"t\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n\n{}")
        let commands = try JWTCommand.parse(frame: frame)
        #expect(commands.map(\.id) == [1, 2, 0])
        guard case .call(.connect, let params) = commands[0].body else {
            Issue.record("not a connect")
            return
        }
        #expect(params.string("token") == "t")
        guard case .pong = commands[2].body else {
            Issue.record("not a pong")
            return
        }
    }

    @Test func garbageAndShapeErrorsAreInvalid() {
        for text in [
            "not json", "[1]", "{\"id\":1}", "{\"id\":-1,\"connect\":{}}", "{\"id\":1,\"connect\":3}", "{\"id\":1,\"connect\":{},\"publish\":{}}",
            "  ",
        ] {
            #expect(throws: JWTCommand.Invalid.self, "\(text)") { try JWTCommand.parse(frame: ByteBuffer(string: text)) }
        }
    }

    @Test func unknownMethodWithAnIdIsAnsweredNotFatal() throws {
        let commands = try JWTCommand.parse(frame: ByteBuffer(string: "{\"id\":7,\"dance\":{}}"))
        guard case .unknown("dance") = commands[0].body else {
            Issue.record("expected unknown")
            return
        }
    }
}

import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardEdge

@Suite struct ConsoleDebugEncoderTests {
    func text(_ message: BusMessage) -> String? {
        ConsoleDebugEncoder().frame(for: message).map { String(buffer: $0) }
    }

    @Test func publicationBecomesOneEventWithChannelNameDataUserAndPosition() {
        let publication = Publication(
            app: "1001",
            channel: "chat:lobby",
            event: "greeting",
            data: ByteBuffer(string: #"{"text":"hi"}"#),
            userID: "ada",
            position: StreamPosition(offset: 7, epoch: "e1"),
            timestamp: 1_700_000_000_000
        )
        #expect(
            self.text(.publication(publication))
                == #"event: message\#ndata: {"channel":"chat:lobby","event":"greeting","data":{"text":"hi"},"userId":"ada","seq":7,"ts":1700000000000}\#n\#n"#
        )
    }

    @Test func unnamedPublicationWithoutHistoryHasNoEventNameNorSeq() {
        let publication = Publication(app: "1001", channel: "c", data: ByteBuffer(string: "42"), timestamp: 5)
        #expect(self.text(.publication(publication)) == #"event: message\#ndata: {"channel":"c","data":42,"ts":5}\#n\#n"#)
    }

    @Test func lineBreaksInPublishedDataBecomeSeparateDataLines() {
        let publication = Publication(app: "1001", channel: "c", data: ByteBuffer(string: "{\r\n\"a\": 1\n}"), timestamp: 5)
        #expect(self.text(.publication(publication)) == "event: message\ndata: {\"channel\":\"c\",\"data\":{\ndata: \"a\": 1\ndata: },\"ts\":5}\n\n")
    }

    @Test func presenceChangeIsAPresenceEventNamingTheMember() {
        let change = PresenceChange(
            app: "1001",
            channel: "room",
            kind: .leave,
            member: PresenceMember(userID: "bob", metadata: ByteBuffer(string: #"{"n":1}"#), lastSeen: 3),
            timestamp: 9
        )
        #expect(
            self.text(.presence(change))
                == #"event: presence\#ndata: {"channel":"room","event":"presence.leave","userId":"bob","metadata":{"n":1},"ts":9}\#n\#n"#
        )
    }
}

import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@Suite struct SessionBoundsTests {
    func session(frames: Int = 4096, bytes: Int) -> Session {
        Session(
            connectionID: ConnectionID(1),
            app: App(id: "1", key: "pk", secrets: ["sk"]),
            encoder: DataEncoder(),
            maxQueuedFrames: frames,
            maxQueuedBytes: bytes
        )
    }

    @Test func aSessionHoldingMoreBytesThanItsBoundIsClosedAsTooSlow() {
        let session = self.session(bytes: 10_000)
        let big = ByteBuffer(repeating: 0x61, count: 4_000)
        #expect(session.send(big) == .queued)
        #expect(session.send(big) == .queued)
        #expect(session.send(big) == .overflow)
        #expect(session.end == .tooSlow)
    }

    @Test func drainingTheQueueGivesItsBytesBack() {
        let session = self.session(bytes: 10_000)
        let big = ByteBuffer(repeating: 0x61, count: 4_000)
        for _ in 0..<10 {
            #expect(session.send(big) == .queued)
            #expect(session.send(big) == .queued)
            #expect(session.takeQueued().count == 2)
        }
        #expect(session.end == nil)
    }

    @Test func aFarewellIsTheLastFrameEvenWhileBroadcastsRaceIt() async {
        for _ in 0..<50 {
            let session = self.session(bytes: 1 << 24)
            let farewell = ByteBuffer(string: "bye")
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for i in 0..<500 { session.send(ByteBuffer(string: "m\(i)")) }
                }
                group.addTask { session.close(.shutdown, farewell: farewell) }
            }
            let frames = session.takeQueued().map { String(buffer: $0.bytes) }
            #expect(frames.last == "bye")
            #expect(session.end == .shutdown)
        }
    }

    func deliver(_ session: Session, bytes: Int, offset: UInt64) -> EnqueueResult {
        var publication = Publication(app: "1", channel: "room", data: ByteBuffer(repeating: 0x61, count: bytes), timestamp: 0)
        publication.position = StreamPosition(offset: offset, epoch: "e")
        return session.deliver(ByteBuffer(repeating: 0x61, count: bytes), of: .publication(publication))
    }

    @Test func liveMessagesHeldBackDuringAReplayAreBoundedInBytesToo() {
        let session = self.session(bytes: 10_000)
        session.beginRecovery(channel: "room")
        #expect(self.deliver(session, bytes: 4_000, offset: 1) == .queued)
        #expect(self.deliver(session, bytes: 4_000, offset: 2) == .queued)
        #expect(self.deliver(session, bytes: 4_000, offset: 3) == .overflow)
        #expect(session.end == .tooSlow)
    }

    @Test func drainedWaitsForTheWriterToTakeEverythingQueued() async {
        let session = self.session(bytes: 1 << 20)
        #expect(await session.drained())
        session.send(ByteBuffer(string: "page"))
        let waiting = Task { await session.drained() }
        try? await Task.sleep(for: .milliseconds(20))
        #expect(session.takeQueued().count == 1)
        #expect(await waiting.value)
    }

    @Test func drainedAnswersFalseOnceTheSessionEnds() async {
        let session = self.session(bytes: 1 << 20)
        session.send(ByteBuffer(string: "page"))
        let waiting = Task { await session.drained() }
        try? await Task.sleep(for: .milliseconds(20))
        session.close(.normal)
        #expect(await waiting.value == false)
        #expect(await session.drained() == false)
    }
}

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
}

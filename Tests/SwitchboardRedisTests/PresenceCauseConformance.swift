import NIOCore
import SwitchboardCore
import Synchronization
import Testing

/// A bus subscriber that keeps the presence changes it is handed.
private final class PresenceSubscriber: Subscriber {
    let connectionID: ConnectionID
    let encoder: any FrameEncoder = PresenceText()
    private let received = Mutex<[String]>([])

    init(_ id: UInt64) { self.connectionID = ConnectionID(id) }

    func deliver(_ frame: ByteBuffer, of message: BusMessage) -> EnqueueResult {
        self.received.withLock { $0.append(String(buffer: frame)) }
        return .queued
    }

    var frames: [String] { self.received.withLock { $0 } }
}

/// Writes a presence change as `kind:user`.
private struct PresenceText: FrameEncoder {
    let protocolName = "text"

    func frame(for message: BusMessage) -> ByteBuffer? {
        guard case .presence(let change) = message else { return nil }
        return ByteBuffer(string: "\(change.kind.rawValue):\(change.member.userID)")
    }
}

/// A presence join that names its cause is told to the channel's other local subscribers but never to the cause,
/// on every engine: Redis hands the node its own join back later, after the joiner may have subscribed.
@Suite("Presence cause conformance")
struct PresenceCauseConformance {
    @Test(arguments: EngineFactory.all)
    func aJoinIsNotToldToItsCauseButIsToTheOthers(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let app = App(id: "1", key: "pk", secrets: ["sk"], plan: .enterprise)
            let bus = Bus(engine: engine, apps: AppRegistry(apps: [app]))
            let member = PresenceSubscriber(1)
            let joiner = PresenceSubscriber(2)
            try await bus.subscribe(member, app: app, channel: "presence-room")
            // The joiner subscribes first, so only the cause, not the order, keeps it from hearing its own join.
            try await bus.subscribe(joiner, app: app, channel: "presence-room")
            _ = try await bus.presenceJoin(
                app: app,
                channel: "presence-room",
                userID: "ada",
                metadata: ByteBuffer(string: "{}"),
                holder: .connection(joiner.connectionID),
                excluding: joiner.connectionID
            )
            // A later, uncaused change marks when the engine has handed back everything before it.
            _ = try await bus.presenceJoin(
                app: app,
                channel: "presence-room",
                userID: "bob",
                metadata: ByteBuffer(string: "{}"),
                holder: .connection(ConnectionID(3))
            )
            let deadline = ContinuousClock.now + .seconds(5)
            while joiner.frames.isEmpty || member.frames.count < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(member.frames == ["join:ada", "join:bob"])
            #expect(joiner.frames == ["join:bob"])
        }
    }
}

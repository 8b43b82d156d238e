import NIOCore
import Synchronization

@testable import SwitchboardCore

/// A subscriber that records what it is handed, standing in for a connection.
final class TestSubscriber: Subscriber {
    let connectionID: ConnectionID
    let encoder: any FrameEncoder
    private let received = Mutex<[String]>([])

    init(_ id: UInt64, encoder: any FrameEncoder = TextEncoder()) {
        self.connectionID = ConnectionID(id)
        self.encoder = encoder
    }

    func deliver(_ frame: ByteBuffer, of message: BusMessage) -> EnqueueResult {
        self.received.withLock { $0.append(String(buffer: frame)) }
        return .queued
    }

    var frames: [String] { self.received.withLock { $0 } }
}

/// Encodes a publication as `event:data` and counts how often it is asked to.
final class TextEncoder: FrameEncoder {
    let protocolName = "text"

    let calls = Atomic<Int>(0)

    func frame(for message: BusMessage) -> ByteBuffer? {
        self.calls.add(1, ordering: .relaxed)
        switch message {
        case .publication(let p): return ByteBuffer(string: "\(p.event ?? "-"):\(String(buffer: p.data)):\(p.position?.offset ?? 0)")
        case .presence(let c): return ByteBuffer(string: "presence.\(c.kind.rawValue):\(c.member.userID)")
        }
    }
}

/// A second wire format, to check encoding once per format.
final class OtherEncoder: FrameEncoder {
    let protocolName = "other"

    let calls = Atomic<Int>(0)

    func frame(for message: BusMessage) -> ByteBuffer? {
        self.calls.add(1, ordering: .relaxed)
        return ByteBuffer(string: "other")
    }
}

func publication(
    _ channel: String,
    _ data: String = "{}",
    app: String = "1",
    event: String? = nil,
    sender: UInt64? = nil,
    at time: Int64 = WallClock.milliseconds()
)
    -> Publication
{
    Publication(app: app, channel: channel, event: event, data: ByteBuffer(string: data), sender: sender.map(ConnectionID.init), timestamp: time)
}

func testApp(plan: Plan = .enterprise, rules: [ChannelRule] = []) -> App {
    App(id: "1", key: "pk", secrets: ["sk"], plan: plan, channelRules: rules)
}

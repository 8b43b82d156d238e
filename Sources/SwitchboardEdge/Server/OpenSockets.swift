import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// Every accepted socket of a counted peer (not a trusted proxy, not in `uncounted_addresses`), by address, so a block
/// ends whatever is open from its range: an idle HTTP keep-alive connection has no session to send away, and would
/// otherwise outlive the block.
final class OpenSockets: Sendable {
    private struct Entry {
        let address: IPAddress
        let channel: any Channel
    }

    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    /// How long the sessions sent away (WebSocket close frames, SSE ends) have to leave on their own before their socket
    /// is closed under them.
    static let farewellGrace = TimeAmount.seconds(1)

    /// Keeps `channel`; the caller removes it when it closes (one close callback per socket serves this and its count).
    func add(_ channel: any Channel, address: IPAddress) {
        self.entries.withLock { $0[ObjectIdentifier(channel)] = Entry(address: address, channel: channel) }
    }

    /// Forgets a closed socket.
    func remove(_ channel: any Channel) {
        _ = self.entries.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Closes the sockets open from `ranges` that are still open `farewellGrace` from now (a session sent away has left
    /// by then); returns how many were open.
    @discardableResult
    func close(from ranges: AddressRanges) -> Int {
        guard !ranges.isEmpty else { return 0 }
        let channels = self.entries.withLock { $0.values.filter { ranges.contains($0.address) }.map(\.channel) }
        for channel in channels {
            channel.eventLoop.scheduleTask(in: Self.farewellGrace) { channel.close(promise: nil) }
        }
        return channels.count
    }

    /// Sockets open now.
    var count: Int { self.entries.withLock { $0.count } }
}

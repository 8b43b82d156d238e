import Logging
import ServiceLifecycle
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// The block list in force: `[server] blocked_addresses` plus the blocks the admin API added, which are stored (they
/// outlive a restart) and may expire.
///
/// Every reader (`SocketAdmission`, `BlockedAddressesMiddleware`) holds `effective`, the union of both lists, so a block
/// applies from the next accepted socket and request. Adding a block also sends away the connections already open from
/// it. As a service, it lifts expired blocks within a second.
final class AddressBlocks: Service, Sendable {
    /// One block made through the admin API (times in Unix milliseconds).
    struct Block: Sendable, Equatable {
        var network: IPNetwork
        /// Why, as the operator wrote it (at most `maxReasonCharacters`).
        var reason: String
        var createdAt: Int64
        /// When it lifts by itself; nil when it lasts until removed.
        var expiresAt: Int64?

        func isExpired(at now: Int64) -> Bool { self.expiresAt.map { $0 <= now } ?? false }
    }

    /// How many blocks the admin API may hold by default: each accepted socket and request tries every range among them.
    static let defaultMaxBlocks = 10_000
    static let maxReasonCharacters = 200
    /// The longest expiry a block may be given: a year.
    static let maxLifetimeSeconds: Int64 = 365 * 24 * 3600

    /// The union of both lists, read per accepted socket and per request.
    let effective: LiveSetting<AddressRanges>
    /// How many blocks the admin API may add (blocks shared by another node are not refused).
    let maxBlocks: Int
    private let farewells: ShutdownNotice
    /// Every socket open from a peer that is not a trusted proxy: a block closes those of its range, sessions or not.
    let openSockets = OpenSockets()
    private let store: SQLiteStore?
    private let logger: Logger
    private let state: Mutex<State>

    struct State {
        var configured: AddressRanges
        /// By the range's CIDR text.
        var blocks: [String: Block] = [:]
    }

    /// Loads the stored blocks (dropping expired ones) and puts them in force beside `configured`.
    init(
        configured: AddressRanges,
        farewells: ShutdownNotice,
        store: SQLiteStore?,
        logger: Logger,
        maxBlocks: Int = AddressBlocks.defaultMaxBlocks,
        now: Int64 = WallClock.milliseconds()
    ) throws {
        self.maxBlocks = maxBlocks
        self.farewells = farewells
        self.store = store
        self.logger = logger
        var state = State(configured: configured)
        try store?.removeAddressBlocks(expiredBy: now)
        for stored in try store?.addressBlocks() ?? [] {
            guard let network = IPNetwork(stored.address) else {
                logger.error("ignoring an unreadable stored address block", metadata: ["address": "\(stored.address)"])
                continue
            }
            state.blocks[network.description] = Block(
                network: network,
                reason: stored.reason,
                createdAt: stored.createdAt,
                expiresAt: stored.expiresAt
            )
        }
        self.effective = LiveSetting(Self.union(state))
        self.state = Mutex(state)
    }

    /// The admin API's blocks in force at `now`, oldest first.
    func blocks(now: Int64 = WallClock.milliseconds()) -> [Block] {
        self.state.withLock { $0.blocks.values.filter { !$0.isExpired(at: now) } }.sorted {
            ($0.createdAt, $0.network.description) < ($1.createdAt, $1.network.description)
        }
    }

    /// `[server] blocked_addresses` in force.
    var configured: AddressRanges { self.state.withLock { $0.configured } }

    /// The admin API's block of exactly `network`, if any.
    func block(_ network: IPNetwork) -> Block? { self.state.withLock { $0.blocks[network.description] } }

    /// How many blocks the admin API holds.
    var count: Int { self.state.withLock { $0.blocks.count } }

    /// Whether the admin API may block `network`: it replaces a block, or the list is not full.
    func hasRoom(for network: IPNetwork) -> Bool {
        self.state.withLock { $0.blocks[network.description] != nil || $0.blocks.count < self.maxBlocks }
    }

    /// Puts a reloaded `[server] blocked_addresses` in force and sends away what it now blocks; returns whether it changed.
    func replaceConfigured(_ ranges: AddressRanges) -> Bool {
        let changed = self.state.withLock { state -> Bool in
            guard state.configured != ranges else { return false }
            state.configured = ranges
            return true
        }
        guard changed else { return false }
        self.publish()
        self.farewells.dismiss(addresses: ranges)
        self.openSockets.close(from: ranges)
        return true
    }

    /// Adds (or replaces) `block` on this node: stored, in force from the next socket, and the connections open from its
    /// range are sent away. An expired block is only forgotten, and the same block again changes nothing (a cluster's
    /// resync applies every block it holds).
    func add(_ block: Block, now: Int64 = WallClock.milliseconds()) throws {
        guard !block.isExpired(at: now) else {
            try self.remove(block.network)
            return
        }
        guard self.block(block.network) != block else { return }
        let stored = StoredAddressBlock(
            address: block.network.description,
            reason: block.reason,
            createdAt: block.createdAt,
            expiresAt: block.expiresAt
        )
        try self.store?.saveAddressBlock(stored)
        let added = self.state.withLock { state -> Bool in
            let before = state.blocks.updateValue(block, forKey: block.network.description)
            return before == nil
        }
        self.publish()
        let ended = self.farewells.dismiss(addresses: AddressRanges(networks: [block.network]))
        self.openSockets.close(from: AddressRanges(networks: [block.network]))
        if added {
            self.logger.notice(
                "blocked an address through the admin API",
                metadata: [
                    "address": "\(block.network)", "connections_ended": "\(ended)", "expires_at": "\(block.expiresAt.map(String.init) ?? "never")",
                ]
            )
        }
    }

    /// Removes the admin API's block of `network` on this node; returns whether there was one.
    @discardableResult
    func remove(_ network: IPNetwork) throws -> Bool {
        // The store holds what memory holds (loaded at start, changed only here), so an unknown block costs no write.
        guard self.block(network) != nil else { return false }
        try self.store?.removeAddressBlock(network.description)
        let removed = self.state.withLock { $0.blocks.removeValue(forKey: network.description) != nil }
        if removed {
            self.publish()
            self.logger.notice("lifted an address block", metadata: ["address": "\(network)"])
        }
        return removed
    }

    /// Lifts the blocks expired at `now`.
    func sweep(now: Int64 = WallClock.milliseconds()) {
        let expired = self.state.withLock { state -> [String] in
            let expired = state.blocks.filter { $0.value.isExpired(at: now) }.map(\.key)
            for address in expired { state.blocks.removeValue(forKey: address) }
            return expired
        }
        guard !expired.isEmpty else { return }
        self.publish()
        do {
            try self.store?.removeAddressBlocks(expiredBy: now)
        } catch {
            self.logger.warning("could not remove expired address blocks from the store", metadata: ["error": "\(error)"])
        }
        self.logger.notice("address blocks expired", metadata: ["addresses": "\(expired.sorted().joined(separator: ", "))"])
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            self.sweep()
        }
    }

    /// Under the state's lock, so two changes never put their unions in force out of order.
    private func publish() {
        self.state.withLock { _ = self.effective.replace(Self.union($0)) }
    }

    private static func union(_ state: State) -> AddressRanges {
        AddressRanges(networks: state.configured.networks + state.blocks.values.map(\.network))
    }
}

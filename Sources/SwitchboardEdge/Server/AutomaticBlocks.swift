import Logging
import Prometheus
import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// Blocks a client address refused `[limits] auto_block_refusals` times within `auto_block_window_seconds`, for
/// `auto_block_seconds`, as an operator would through the admin API: stored, on every node, listed with its reason.
///
/// It sees every security event, before the per-address budget drops any, and counts the kinds of `auto_block_kinds`
/// (by default all but those that are not the client's doing: a disabled app, an app over its quota, an address already
/// blocked), unless the refusal is blameless (`SecurityEvent.blameless`). The uncounted addresses and the trusted proxies are never blocked this way. An IPv6 client is counted and
/// blocked by its /64. Each block it makes is itself an `address_blocked` event, so the console, the security events
/// and the alert rules hear of it even when the address goes quiet once blocked.
final class AutomaticBlocks: SecurityEventSink {
    private let limits: LiveLimits
    private let blocks: AddressBlocks
    private let uncounted: LiveSetting<AddressRanges>
    private let trusted: LiveSetting<TrustedProxies>
    /// Where the event of each block goes (every sink but this one).
    private let events: any SecurityEventSink
    private let tally: Mutex<RefusalTally>
    /// Carries blocks to the other nodes (Redis engine only); set once it exists (`share(through:)`).
    private let sync = Mutex<LiveSettingsSync?>(nil)
    private let logger: Logger
    private let made: Counter?
    /// When the log last said the block list is full: once a minute at most, however many addresses trip meanwhile.
    private let toldFull = Mutex(-Double.infinity)
    private let now: @Sendable () -> Double

    init(
        limits: LiveLimits,
        blocks: AddressBlocks,
        uncounted: LiveSetting<AddressRanges>,
        trusted: LiveSetting<TrustedProxies>,
        events: any SecurityEventSink = FanOutSecuritySink([]),
        logger: Logger,
        metrics: EdgeMetrics? = nil,
        maxTracked: Int = 10_000,
        now: @escaping @Sendable () -> Double = { MonotonicClock.seconds() }
    ) {
        self.limits = limits
        self.blocks = blocks
        self.uncounted = uncounted
        self.trusted = trusted
        self.events = events
        self.tally = Mutex(RefusalTally(maxTracked: maxTracked))
        self.logger = logger
        self.made = metrics?.registry.makeCounter(
            descriptor: EdgeMetrics.name("automatic_blocks", "total", "Addresses blocked for auto_block_refusals refusals.")
        )
        self.now = now
    }

    /// From now on, blocks are made on every node through `sync`.
    func share(through sync: LiveSettingsSync?) { self.sync.withLock { $0 = sync } }

    func record(_ event: SecurityEvent) {
        guard !event.blameless, let text = event.clientIP else { return }
        let values = self.limits.current
        guard values.autoBlockRefusals > 0, values.autoBlockKinds.contains(event.kind), let address = IPAddress(text),
            !self.uncounted.current.contains(address), !self.trusted.current.contains(address)
        else { return }
        let limits = RefusalTally.Limits(refusals: values.autoBlockRefusals, windowSeconds: Double(values.autoBlockWindowSeconds))
        let key = address.limitKey
        guard self.tally.withLock({ $0.count(key, now: self.now(), limits: limits) }), let network = IPNetwork(key) else { return }
        let reason = "automatic: \(values.autoBlockRefusals) refusals in \(values.autoBlockWindowSeconds) s, the last \(event.kind)"
        let now = WallClock.milliseconds()
        let block = AddressBlocks.Block(
            network: network,
            reason: reason,
            createdAt: now,
            expiresAt: now + Int64(values.autoBlockSeconds) * 1000
        )
        // The store and Redis are not for the thread that reported the refusal, often an event loop.
        Task { await self.put(block, client: text) }
    }

    /// Addresses being counted now.
    var tracked: Int { self.tally.withLock { $0.tracked } }

    /// How many blocks automatic ones may take together: the last tenth of the list stays the operators', so a flood
    /// from many addresses never leaves them unable to block by hand.
    var room: Int { self.blocks.maxBlocks - self.blocks.maxBlocks / 10 }

    /// Puts `block` in force unless the admin API already holds one for its range (an operator's, which may last
    /// longer) or the list is full up to `room`.
    func put(_ block: AddressBlocks.Block, client: String? = nil) async {
        let metadata: Logger.Metadata = ["address": "\(block.network)", "reason": "\(block.reason)"]
        guard self.blocks.block(block.network) == nil else { return }
        guard self.blocks.count < self.room else {
            let now = self.now()
            let tell = self.toldFull.withLock { told -> Bool in
                guard now - told >= 60 else { return false }
                told = now
                return true
            }
            if tell {
                self.logger.error(
                    "could not block an address automatically: automatic blocks fill their nine tenths of the block list",
                    metadata: metadata
                )
            }
            return
        }
        do {
            try await self.blocks.change(block.network, to: block, sharing: self.sync.withLock { $0 })
        } catch is EngineUnavailable {
            // Redis is away: this node at least shuts the address out.
            self.logger.warning("Redis cannot be reached: the automatic block applies on this node only", metadata: metadata)
            do {
                try self.blocks.add(block)
            } catch {
                self.failed(error, metadata)
                return
            }
        } catch {
            self.failed(error, metadata)
            return
        }
        self.made?.increment()
        let lasting = block.expiresAt.map { "for \(($0 - block.createdAt) / 1000) s" } ?? "until lifted"
        self.events.record(
            SecurityEvent(
                time: block.createdAt,
                app: nil,
                kind: .addressBlocked,
                clientIP: client ?? block.network.address.description,
                detail: "\(block.network) blocked \(lasting) (\(block.reason))"
            )
        )
        self.logger.warning("blocked an address automatically", metadata: metadata.merging(["expires_at": "\(block.expiresAt ?? 0)"]) { $1 })
    }

    private func failed(_ error: any Error, _ metadata: Logger.Metadata) {
        self.logger.error("could not block an address automatically", metadata: metadata.merging(["error": "\(error)"]) { $1 })
    }
}

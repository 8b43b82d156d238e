import Logging
import ServiceLifecycle
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardRedis
import SwitchboardStore

/// Carries admin changes of channel rules and webhooks, admin edits of apps (enabled, plan, limits, origins, hosts), key
/// revocations and address blocks to every node of a Redis cluster.
///
/// Each node has its own SQLite file, so a change is written to a Redis hash (field `live:<app>`, the settings document;
/// `app:<app>`, the app's fields; `revoked:<app>:<fingerprint>`, a revoked secret's fingerprint; `block:<range>`, an
/// address block or `{}` once lifted) and announced on the
/// control topic; every node, the writer included, then reads the field and applies it to its store and registry (a
/// disabled app's connections, and what a revoked key authorized, end on every node). A node reads the whole hash when it starts and whenever Redis comes back, for notices it missed.
/// What Redis holds wins over the node's own store; `{}` in the hash means "the config's settings" (a tombstone, so a
/// node that was away also forgets what was removed).
final class LiveSettingsSync: Service, Sendable {
    let engine: RedisEngine
    let controlPlane: ControlPlane
    /// Where shared address blocks are put in force.
    let blocks: AddressBlocks
    let logger: Logger
    /// How often the service checks whether Redis came back (it then reads the whole hash).
    let checkInterval: Duration
    /// How often it deletes the documents of expired address blocks.
    let cleanupInterval: Duration

    static let fieldPrefix = "live:"
    static let appFieldPrefix = "app:"
    static let revocationPrefix = "revoked:"
    static let blockPrefix = "block:"

    init(
        engine: RedisEngine,
        controlPlane: ControlPlane,
        blocks: AddressBlocks,
        logger: Logger,
        checkInterval: Duration = .seconds(1),
        cleanupInterval: Duration = .seconds(60)
    ) {
        self.cleanupInterval = cleanupInterval
        self.engine = engine
        self.controlPlane = controlPlane
        self.blocks = blocks
        self.logger = logger
        self.checkInterval = checkInterval
    }

    /// Writes `settings` for app `id` to Redis, tells the other nodes, and applies what Redis then holds on this node.
    ///
    /// Throws `EngineUnavailable` (503) when Redis cannot be reached: then nothing changed anywhere.
    func share(_ settings: LiveAppSettings, app id: String) async throws {
        try await self.engine.shareControlDocument(settings.document, field: Self.fieldPrefix + id)
        await self.pull(field: Self.fieldPrefix + id)
    }

    /// Shares app `app`'s admin-editable fields after an admin edit on this node (already applied here).
    ///
    /// Throws `EngineUnavailable` when Redis cannot be reached: the other nodes then keep their values.
    func shareApp(_ app: StoredApp) async throws {
        try await self.engine.shareControlDocument(SharedAppFields.document(app), field: Self.appFieldPrefix + app.id)
    }

    /// Tells the other nodes that the key whose secret has `signer` was revoked here.
    func shareRevocation(app id: String, signer: KeyFingerprint) async throws {
        try await self.engine.shareControlDocument("1", field: "\(Self.revocationPrefix)\(id):\(signer)")
    }

    /// Shares an address block's document (`{}` lifts it) and applies what Redis then holds on this node.
    func shareBlock(_ document: String, network: IPNetwork) async throws {
        try await self.engine.shareControlDocument(document, field: Self.blockPrefix + network.description)
        await self.pull(field: Self.blockPrefix + network.description)
    }

    func run() async throws {
        let (notices, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(4096))
        await self.engine.listenForControlNotices { field in continuation.yield(field) }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await field in notices { await self.pull(field: field) }
                }
                group.addTask { await self.resyncWhenRedisReturns() }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.cleanupInterval)
                        await self.removeExpiredBlocks()
                    }
                }
            }
        }
        continuation.finish()
    }

    /// Reads the whole hash at start and each time Redis becomes available again, until cancelled.
    func resyncWhenRedisReturns() async {
        var synced = false
        while !Task.isCancelled {
            let available = self.engine.isAvailable
            if available, !synced { synced = await self.pullAll() }
            if !available { synced = false }
            try? await Task.sleep(for: self.checkInterval)
        }
    }

    /// Deletes the documents of blocks past their expiry, lifted or not: every node can tell they are spent, and the hash
    /// would otherwise keep a field for every block ever made with an expiry. A document replaced meanwhile stays.
    func removeExpiredBlocks(now: Int64 = WallClock.milliseconds()) async {
        guard let documents = try? await self.engine.controlDocuments() else { return }
        for (field, document) in documents where field.hasPrefix(Self.blockPrefix) {
            guard let expiresAt = AddressBlockRoutes.expiry(document: document), expiresAt <= now else { continue }
            _ = try? await self.engine.removeControlDocument(field: field, ifStill: document)
        }
    }

    /// Applies the field's document on this node; logs what it cannot read.
    func pull(field: String) async {
        do {
            guard let document = try await self.engine.controlDocument(field: field) else { return }
            try await self.apply(document, field: field)
        } catch {
            self.logger.warning("could not apply a channel-rules change from another node", metadata: ["field": "\(field)", "error": "\(error)"])
        }
    }

    /// Applies every document of the hash; returns whether Redis answered.
    func pullAll() async -> Bool {
        let documents: [String: String]
        do {
            documents = try await self.engine.controlDocuments()
        } catch {
            return false
        }
        for (field, document) in documents {
            do {
                try await self.apply(document, field: field)
            } catch {
                self.logger.warning("ignoring unreadable shared channel rules", metadata: ["field": "\(field)", "error": "\(error)"])
            }
        }
        return true
    }

    func apply(_ document: String, field: String) async throws {
        if field.hasPrefix(Self.fieldPrefix) {
            let app = String(field.dropFirst(Self.fieldPrefix.count))
            if try self.controlPlane.applyLive(try LiveAppSettings(document: document), app: app) {
                self.logger.info("applied channel rules and webhooks shared by the cluster", metadata: ["app": "\(app)"])
            }
        } else if field.hasPrefix(Self.appFieldPrefix) {
            let app = String(field.dropFirst(Self.appFieldPrefix.count))
            if try self.controlPlane.applySharedApp(document, app: app) {
                self.logger.info("applied an app edit shared by the cluster", metadata: ["app": "\(app)"])
            }
        } else if field.hasPrefix(Self.blockPrefix), let network = IPNetwork(field.dropFirst(Self.blockPrefix.count)) {
            if let block = try AddressBlockRoutes.block(document: document, network: network) {
                try self.blocks.add(block)
            } else {
                try self.blocks.remove(network)
            }
        } else if field.hasPrefix(Self.revocationPrefix), let colon = field.lastIndex(of: ":") {
            let app = String(field[field.index(field.startIndex, offsetBy: Self.revocationPrefix.count)..<colon])
            let fingerprint = String(field[field.index(after: colon)...])
            try await self.controlPlane.applySharedRevocation(fingerprint: fingerprint, app: app, logger: self.logger)
        }
    }
}

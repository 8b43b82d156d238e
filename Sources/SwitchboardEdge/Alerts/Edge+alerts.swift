import Foundation
import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

extension Edge {
    /// The alert center of this edge: the config's rules and the store's, evaluated against this node's connections,
    /// the engine's availability and the apps' month-to-date messages (`UsageMeter`). Called after the control plane
    /// opened the store, so the master key that seals app secrets (and alert webhook secrets) exists.
    static func alertCenter(
        config: SwitchboardConfig,
        store: SQLiteStore,
        counter: AlertSecurityCounter,
        bus: Bus,
        connections: ConnectionCounter,
        usage: UsageMeter,
        metrics: EdgeMetrics?,
        logger: Logger
    ) throws -> AlertCenter {
        let master = try MasterKey.resolve(
            environment: ProcessInfo.processInfo.environment["SWITCHBOARD_MASTER_KEY"],
            configured: config.store.masterKey,
            storePath: config.store.path
        )
        let sources = AlertSources(
            connections: { connections.snapshot.values.reduce(0, +) },
            engineAvailable: { bus.engine.isAvailable },
            // Month-to-date messages against each plan's `monthly_messages` (cached by the meter: no store read).
            usage: {
                usage.monthlyUsage().map { entry in
                    (app: entry.app, used: UInt64(max(0, entry.messages)), limit: entry.limit.map { UInt64(max(0, $0)) })
                }
            }
        )
        return try AlertCenter(
            configured: config.alerts,
            store: AlertRuleStore(store: store, box: SecretBox(key: master.key)),
            sources: sources,
            delivery: AlertDelivery(logger: logger),
            counter: counter,
            registry: metrics?.registry,
            logger: logger
        )
    }
}

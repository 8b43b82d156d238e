import Foundation
import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

extension ControlPlane {
    /// Opens the control plane of `store`: finds the master key (env `SWITCHBOARD_MASTER_KEY`, `[store] master_key`,
    /// `master.key` beside the database, or a new one written there), checks it, seeds and fills `registry`.
    ///
    /// A master key that does not open the store's secrets is a `ConfigError`, so `serve` exits 2 with one clear line.
    static func open(
        store: SQLiteStore,
        registry: AppRegistry,
        config: SwitchboardConfig,
        departures: ShutdownNotice? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) throws -> ControlPlane {
        let master: MasterKey
        do {
            master = try MasterKey.resolve(
                environment: environment["SWITCHBOARD_MASTER_KEY"],
                configured: config.store.masterKey,
                storePath: config.store.path
            )
        } catch {
            throw ConfigError(key: "store.master_key", problem: "none given and cannot write one beside the store: \(error)")
        }
        if case .generated(let path) = master.source {
            logger.warning(
                "no master key configured: generated one to seal app secrets at rest; back it up, or set SWITCHBOARD_MASTER_KEY or [store] master_key",
                metadata: ["file": "\(path)"]
            )
        }
        let sealed: ControlPlaneStore
        do {
            sealed = try ControlPlaneStore(store: store, box: SecretBox(key: master.key))
        } catch let error as ControlPlaneStore.WrongMasterKey {
            let from: String
            switch master.source {
            case .environment: from = "SWITCHBOARD_MASTER_KEY"
            case .config: from = "[store] master_key"
            case .file(let path), .generated(let path): from = path
            case .ephemeral: from = "an ephemeral key"
            }
            throw ConfigError(key: "store.master_key", problem: "\(error) (key from \(from), store \(config.store.path))")
        }
        let live = try LiveSettingsStore(store: store, logger: logger)
        return try ControlPlane(store: sealed, registry: registry, config: config, departures: departures, live: live, logger: logger)
    }
}

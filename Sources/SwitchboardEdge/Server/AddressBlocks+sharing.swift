import SwitchboardAdapterKit

extension AddressBlocks {
    /// Puts `block` in force for `network` (nil lifts it): through Redis to every node when `sync` is set, else on this
    /// node. Throws `EngineUnavailable` when Redis cannot be reached, and then nothing changed.
    func change(_ network: IPNetwork, to block: Block?, sharing sync: LiveSettingsSync?) async throws {
        guard let sync else {
            if let block { try self.add(block) } else { try self.remove(network) }
            return
        }
        try await sync.shareBlock(AddressBlockRoutes.document(block, lifting: self.block(network)), network: network)
    }
}

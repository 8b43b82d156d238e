import SwitchboardCore
import Synchronization

/// The shared deflater for a `[limits] compression_min_bytes` that a reload changed.
///
/// `WebSocketCompression` holds the deflater of the value at start, and the hub compresses a broadcast once per
/// deflater, so connections opened after a reload share one new deflater of the new size (made on first use and kept
/// until the value changes again); connections already open keep theirs.
final class ReloadedDeflater: Sendable {
    private let latest = Mutex<FrameDeflater?>(nil)

    /// `started` when it leaves messages under `minBytes` plain, else the one deflater that does.
    func deflater(replacing started: FrameDeflater, minBytes: Int) -> FrameDeflater {
        guard started.minBytes != max(1, minBytes) else { return started }
        return self.latest.withLock { latest in
            if let latest, latest.minBytes == max(1, minBytes) { return latest }
            let made = FrameDeflater(minBytes: minBytes)
            latest = made
            return made
        }
    }
}

import NIOCore
import SwitchboardCore

/// Frames a publication as its data bytes: the wire format of sessions under test, whose frames read as what was sent.
struct DataEncoder: FrameEncoder {
    let protocolName = "data"

    func frame(for message: BusMessage) -> ByteBuffer? {
        guard case .publication(let publication) = message else { return nil }
        return publication.data
    }
}

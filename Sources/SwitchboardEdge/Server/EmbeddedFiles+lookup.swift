import Foundation
import NIOCore

extension EmbeddedFiles {
    /// The embedded files' bytes, decoded once at first use.
    static let decoded: [String: ByteBuffer] = Self.base64.compactMapValues { text in
        Data(base64Encoded: text).map { ByteBuffer(bytes: $0) }
    }

    /// The bytes of the embedded file at `path` (`console/index.html`, `examples/chat.html`, `sdk/realtime/index.js`).
    ///
    /// The `EmbedFiles` plugin puts `Sources/SwitchboardEdge/Public/**` and the repository's `sdk/js/**` (under `sdk/`) into
    /// the binary at build time, so the pages and the SDK are served with no files beside it.
    static func file(at path: String) -> ByteBuffer? { Self.decoded[path] }

    /// Every embedded path, sorted.
    static var paths: [String] { Self.decoded.keys.sorted() }
}

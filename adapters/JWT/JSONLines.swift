import NIOCore

/// Newline-separated JSON values, the way Centrifugo batches commands in one WebSocket frame or one `POST /api` body.
enum JSONLines {
    /// The non-blank lines of `buffer`, each as its own buffer; nil as soon as there are more than `limit`.
    static func split(_ buffer: ByteBuffer, limit: Int) -> [ByteBuffer]? {
        var lines: [ByteBuffer] = []
        let bytes = buffer.readableBytesView
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            let line = bytes[start..<end]
            start = end < bytes.endIndex ? bytes.index(after: end) : end
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else { continue }
            guard lines.count < limit else { return nil }
            lines.append(ByteBuffer(bytes: line))
        }
        return lines
    }
}

package import NIOCore

/// Checks bytes against Unicode's table of well-formed UTF-8: no stray continuation bytes, no overlong forms, no
/// encoded surrogates (U+D800–U+DFFF), nothing past U+10FFFF. Text frames and JSON strings are checked with it, so
/// nothing a client sends is relayed to browsers that would fail the connection on it (1007).
package enum UTF8Validation {
    /// The length of the well-formed sequence whose lead byte (at least 0x80) is at `offset`, or nil.
    @inline(__always)
    package static func sequenceLength(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int? {
        let second: ClosedRange<UInt8>
        let length: Int
        switch bytes[offset] {
        case 0xC2...0xDF: (second, length) = (0x80...0xBF, 2)
        case 0xE0: (second, length) = (0xA0...0xBF, 3)
        case 0xE1...0xEC, 0xEE...0xEF: (second, length) = (0x80...0xBF, 3)
        case 0xED: (second, length) = (0x80...0x9F, 3)
        case 0xF0: (second, length) = (0x90...0xBF, 4)
        case 0xF1...0xF3: (second, length) = (0x80...0xBF, 4)
        case 0xF4: (second, length) = (0x80...0x8F, 4)
        default: return nil
        }
        guard offset + length <= bytes.count, second.contains(bytes[offset + 1]) else { return nil }
        for k in 2..<length where bytes[offset + k] & 0xC0 != 0x80 { return nil }
        return length
    }

    /// True when `bytes` are well-formed UTF-8; ASCII runs are checked eight bytes at a time.
    package static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            if index + 8 <= count, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            guard let length = Self.sequenceLength(bytes, at: index) else { return false }
            index += length
        }
        return true
    }

    /// True when the readable bytes of `buffer` are well-formed UTF-8.
    package static func isValid(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { Self.isValid($0) }
    }
}

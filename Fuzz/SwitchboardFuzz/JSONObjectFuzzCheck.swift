import NIOCore
import SwitchboardAdapterKit

/// The JSON scanner every protocol parses client frames and REST bodies with (`JSONObject(parsing:)`).
enum JSONObjectFuzzCheck {
    static let target = FuzzTarget(
        name: "json",
        maxLength: 4096,
        summary:
            "UTF8Validation.isValid agrees with the standard library on every input; JSONObject(parsing:) accepts only valid UTF-8 and nesting within maxDepth; every member value re-scans to "
            + "the same bytes inside a fresh object; string members (and keys) survive JSONWriter and back; typed accessors agree "
            + "with the raw bytes",
        check: { input throws(FuzzFailure) in try check(input) }
    )

    static let maxDepth = 64

    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let valid = String(validating: input, as: UTF8.self) != nil
        let verdict = input.withUnsafeBytes { UTF8Validation.isValid($0) }
        try require(verdict == valid, "UTF8Validation.isValid says \(verdict), the standard library \(valid)")
        guard let object = try? JSONObject(parsing: ByteBuffer(bytes: input)) else { return }
        try require(valid, "accepted a document that is not valid UTF-8")
        let depth = nesting(input)
        // The top-level object is not counted: its member values start at depth 1.
        try require(depth <= maxDepth + 1, "accepted nesting \(depth), past maxDepth \(maxDepth)")
        try checkMembers(of: object, level: 0)
    }

    static func checkMembers(of object: JSONObject, level: Int) throws(FuzzFailure) {
        for key in object.keys {
            try checkStringRoundTrip(key, what: "key")
            guard let raw = object.raw(key) else { throw FuzzFailure("key \(key.debugDescription) is listed but has no value") }
            let bytes = Array(raw.readableBytesView)
            try require(!bytes.isEmpty, "member \(key.debugDescription) has an empty value")

            // What was accepted once is accepted again, alone and with other whitespace, with the same bytes.
            var wrapped = ByteBuffer(string: "\n{ \"v\" :\t")
            wrapped.writeBytes(bytes)
            wrapped.writeString(" }\r\n")
            guard let again = try? JSONObject(parsing: wrapped) else {
                throw FuzzFailure("member \(key.debugDescription) = \(show(bytes)) does not re-scan on its own")
            }
            try require(again.keys == ["v"] && again.raw("v") == raw, "member \(key.debugDescription) re-scans to other bytes")

            let text = object.string(key)
            try require((bytes.first == UInt8(ascii: "\"")) == (text != nil), "string(\(key.debugDescription)) disagrees with \(show(bytes))")
            if let text { try checkStringRoundTrip(text, what: "value of \(key.debugDescription)") }

            let literal = String(decoding: bytes, as: UTF8.self)
            try require(object.isNull(key) == (literal == "null"), "isNull(\(key.debugDescription)) disagrees with \(show(bytes))")
            let expectedBool: Bool? = literal == "true" ? true : literal == "false" ? false : nil
            try require(object.bool(key) == expectedBool, "bool(\(key.debugDescription)) disagrees with \(show(bytes))")
            _ = object.integer(key)
            _ = object.double(key)

            switch bytes.first {
            case UInt8(ascii: "{"):
                guard let nested = object.object(key) else { throw FuzzFailure("object(\(key.debugDescription)) refused \(show(bytes))") }
                if level < 8 { try checkMembers(of: nested, level: level + 1) }
            case UInt8(ascii: "["):
                if let strings = object.strings(key) {
                    for string in strings { try checkStringRoundTrip(string, what: "element of \(key.debugDescription)") }
                }
            default:
                try require(object.object(key) == nil && object.strings(key) == nil, "\(show(bytes)) read as an object or array")
            }
        }
    }

    /// `text`, written by JSONWriter and scanned back, is `text` again.
    static func checkStringRoundTrip(_ text: String, what: String) throws(FuzzFailure) {
        var document = ByteBuffer(string: "{\"v\":")
        document.writeImmutableBuffer(JSONWriter.encodeString(text))
        document.writeString("}")
        let back = (try? JSONObject(parsing: document))?.string("v")
        try require(back == text, "\(what) \(text.debugDescription) came back from JSONWriter as \(back.debugDescription)")
    }

    /// The deepest bracket nesting outside strings (the top-level object is depth 1).
    static func nesting(_ bytes: [UInt8]) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}

/// Bytes for a failure message: the text when short, else its start and length.
func show(_ bytes: [UInt8]) -> String {
    let text = String(decoding: bytes.prefix(80), as: UTF8.self).debugDescription
    return bytes.count > 80 ? "\(text)… (\(bytes.count) bytes)" : text
}

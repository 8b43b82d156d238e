import SwitchboardAdapterKit

/// A request target the reverse proxy may forward: origin-form only (`/path?query`, RFC 9112 §3.2.1).
///
/// Anything else is refused before a URL is built: absolute-form (`http://host/…`, which HTTP/2 passes on as its
/// `:path`), authority-form (`host:port`), `@host:port/…`, asterisk-form, a path that does not start with one `/`
/// (`//host/…` reads as an authority to many URL parsers), and any byte outside visible ASCII, `\` or `#` (CR, LF and
/// NUL included). Percent escapes must be complete. The parts are kept as sent, still percent-encoded.
struct ProxyTarget: Sendable, Equatable {
    /// Why a target is refused, for the 400's message.
    struct Refusal: Error, Sendable, Equatable {
        var message: String
    }

    /// The path, starting with `/`.
    let path: Substring
    /// The query without its `?`, when the target had one.
    let query: Substring?

    /// Validates a request target (`HTTPRequest.path`).
    init(_ target: String) throws(Refusal) {
        let bytes = target.utf8
        guard bytes.first == UInt8(ascii: "/") else {
            throw Refusal(message: "only a request target that is a path starting with / is forwarded")
        }
        guard bytes.dropFirst().first != UInt8(ascii: "/") else {
            throw Refusal(message: "a request target starting with // is not forwarded")
        }
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard (0x21...0x7e).contains(byte), byte != UInt8(ascii: "\\"), byte != UInt8(ascii: "#") else {
                throw Refusal(message: "the request target holds a byte that is not allowed there (control, space, \\, # or non-ASCII)")
            }
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex, HexDigit.value(bytes[first]) != nil, bytes.index(after: first) < bytes.endIndex,
                    HexDigit.value(bytes[bytes.index(after: first)]) != nil
                else { throw Refusal(message: "the request target has an incomplete percent escape") }
            }
            index = bytes.index(after: index)
        }
        if let mark = target.firstIndex(of: "?") {
            self.path = target[..<mark]
            self.query = target[target.index(after: mark)...]
        } else {
            self.path = target[...]
            self.query = nil
        }
    }
}

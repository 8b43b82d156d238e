/// Where a Redis server is and how to log in: `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS.
///
/// `redis://127.0.0.1:6379/0` is the default. A password without a user (`redis://:secret@host`) uses
/// `AUTH password`; with a user, `AUTH user password` (Redis 6 ACLs). Percent-escapes in the user and
/// password are decoded.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// The host name or address (IPv6 without brackets).
    public var host: String
    /// The TCP port; 6379 when not given.
    public var port: Int
    /// The ACL user, if any.
    public var user: String?
    /// The password, if any.
    public var password: String?
    /// The database number selected after connecting; 0 when not given.
    public var database: Int
    /// Whether to speak TLS (`rediss://`).
    public var tls: Bool

    /// Creates a location.
    public init(host: String = "127.0.0.1", port: Int = 6379, user: String? = nil, password: String? = nil, database: Int = 0, tls: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses `text`; the error says what is wrong with it.
    public init(parsing text: String) throws(RedisURLError) {
        let pieces = text.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2 else { throw RedisURLError("expected redis://host:port/db, got \"\(text)\"") }
        let scheme = pieces[0].lowercased()
        guard scheme == "redis" || scheme == "rediss" else {
            throw RedisURLError("unsupported scheme \"\(scheme)\"; expected redis:// or rediss://")
        }
        var rest = pieces[1]
        if rest.contains("?") || rest.contains("#") { throw RedisURLError("query strings and fragments are not supported") }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw RedisURLError("database \"\(path)\" is not a non-negative number") }
                database = number
            }
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                let name = try Self.decode(info[..<colon])
                user = name.isEmpty ? nil : name
                password = try Self.decode(info[info.index(after: colon)...])
            } else {
                // `redis://secret@host` is a password alone, as redis-cli reads it.
                password = try Self.decode(info)
            }
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw RedisURLError("unterminated IPv6 address") }
            let after = host[host.index(after: close)...]
            let address = String(host[host.index(after: host.startIndex)..<close])
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { throw RedisURLError("bad port in \"\(host)\"") }
                port = number
            }
            host = address
        } else if let colon = host.lastIndex(of: ":") {
            let portText = host[host.index(after: colon)...]
            guard let number = Int(portText) else { throw RedisURLError("port \"\(portText)\" is not a number") }
            port = number
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw RedisURLError("the host is missing") }
        guard (1...65535).contains(port) else { throw RedisURLError("port \(port) is out of range") }
        self.init(host: host, port: port, user: user, password: password, database: database, tls: scheme == "rediss")
    }

    private static func decode(_ text: Substring) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw RedisURLError("bad percent-escape in the user or password") }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The URL without its password.
    public var description: String {
        let credentials = self.user.map { "\($0):***@" } ?? (self.password != nil ? ":***@" : "")
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(self.tls ? "rediss" : "redis")://\(credentials)\(host):\(self.port)/\(self.database)"
    }
}

/// Why a Redis URL was refused.
public struct RedisURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    init(_ message: String) { self.message = message }

    public var description: String { self.message }
}

import HTTPTypes
import NIOHTTP1

/// Header rules of the reverse proxy: what crosses it, what is hop-by-hop, and the `X-Forwarded-*` it adds.
enum ProxyHeaders {
    /// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), besides those `Connection` names.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// The lowercased names a message's `Connection` header lists, plus the fixed hop-by-hop set.
    static func dropped(connection values: [String]) -> Set<String> {
        var names = Self.hopByHop
        for value in values {
            for token in value.split(separator: ",") {
                let name = token.trimmingWhitespace().lowercased()
                if !name.isEmpty { names.insert(name) }
            }
        }
        return names
    }

    /// Whether `name` (lowercased) is dropped: hop-by-hop, any `Proxy-*`, or listed in `Connection`.
    static func isDropped(_ name: String, _ dropped: Set<String>) -> Bool {
        dropped.contains(name) || name.hasPrefix("proxy-")
    }

    /// The request headers sent upstream: the client's end-to-end headers, then `X-Forwarded-For`, `X-Forwarded-Proto`
    /// and `X-Forwarded-Host`. `Host` is the upstream's.
    ///
    /// From a trusted proxy (`trustedPeer`) the `X-Forwarded-For` list it sent is kept and its address `peerIP`
    /// appended, and its `Forwarded` and `X-Real-IP` pass; from anyone else those headers are dropped and
    /// `X-Forwarded-For` is the peer alone, so a client cannot make the upstream believe it comes from elsewhere.
    static func upstreamRequest(_ fields: HTTPFields, peerIP: String?, trustedPeer: Bool, scheme: String, host: String?) -> HTTPHeaders {
        let dropped = Self.dropped(connection: fields[values: .connection])
        var headers = HTTPHeaders()
        var forwardedFor: [String] = []
        for field in fields {
            let name = field.name.canonicalName
            if Self.isDropped(name, dropped) || name == "host" || name == "x-forwarded-proto" || name == "x-forwarded-host" { continue }
            if name == "x-forwarded-for" {
                if trustedPeer { forwardedFor.append(field.value) }
                continue
            }
            if !trustedPeer && (name == "forwarded" || name == "x-real-ip") { continue }
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let peerIP { forwardedFor.append(peerIP) }
        if !forwardedFor.isEmpty { headers.add(name: "X-Forwarded-For", value: forwardedFor.joined(separator: ", ")) }
        headers.add(name: "X-Forwarded-Proto", value: scheme)
        if let host { headers.add(name: "X-Forwarded-Host", value: host) }
        return headers
    }

    /// The response headers sent to the client: the upstream's end-to-end headers.
    static func clientResponse(_ headers: HTTPHeaders) -> HTTPFields {
        let dropped = Self.dropped(connection: headers[canonicalForm: "connection"].map(String.init))
        var fields = HTTPFields()
        for (name, value) in headers {
            guard !Self.isDropped(name.lowercased(), dropped), let fieldName = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return fields
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

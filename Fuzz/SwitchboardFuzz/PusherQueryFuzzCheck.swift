import NIOCore
import Pusher

/// The Pusher HTTP API's query parsing, percent-decoding and signature check (`PusherRequestSignature`).
enum PusherQueryFuzzCheck {
    static let target = FuzzTarget(
        name: "pusher-query",
        maxLength: 2048,
        summary: "PusherRequestSignature: any query parses and verifies without a crash, and is accepted only with the HMAC of "
            + "its own parameters; a request signed from the input (any values, percent-encoded) decodes to those values, signs "
            + "the string an independent implementation of the spec builds, is accepted, and is refused after any change to its "
            + "secret, signature, timestamp, parameters or body",
        check: { input throws(FuzzFailure) in
            try checkAnyQuery(input)
            try checkSignedRequest(input)
        }
    )

    static let now: Int64 = 1_700_000_000
    static let key = "app-key"

    /// Any bytes as a query: parsing and verifying are total, and acceptance implies the right signature.
    static func checkAnyQuery(_ input: [UInt8]) throws(FuzzFailure) {
        let request = PusherRequestSignature(query: String(decoding: input, as: UTF8.self))
        for parameter in request.parameters {
            try require(parameter.key == parameter.key.lowercased(), "key \(parameter.key.debugDescription) was not lowercased")
        }
        let secrets = ["secret", "rotated-secret"]
        let path = "/apps/1/events"
        let body = request["x-body"].map { ByteBuffer(string: $0) }
        guard (try? request.verify(method: "POST", paths: [path], body: body, key: key, secrets: secrets, now: now)) != nil else { return }
        let string = stringToSign(request.parameters.map { ($0.key, $0.value) }, method: "POST", path: path)
        let expected = secrets.map { PusherSignature.hmacHex(secret: $0, string: string) }
        try require(expected.contains(request["auth_signature"]?.lowercased() ?? ""), "accepted a wrong signature")
        try require(request["auth_key"] == key, "accepted another auth_key")
        try require(isFresh(request["auth_timestamp"] ?? ""), "accepted timestamp \(request["auth_timestamp"] ?? "none")")
    }

    /// How a request is changed after it was signed.
    enum Change: UInt8, CaseIterable {
        case none, otherSecret, signatureDigit, staleTimestamp, parameterValue, body, droppedParameter, anyTimestamp
    }

    static let keyAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789_-.")
    static let wordAlphabet = Array("aZ09-_.~/ %&=+;#?é")

    /// A request signed from the input: accepted as signed, refused after any change.
    static func checkSignedRequest(_ input: [UInt8]) throws(FuzzFailure) {
        var reader = FuzzReader(input)
        let secret = reader.word(from: wordAlphabet, limit: 40)
        let method = reader.byte() & 1 == 0 ? "POST" : "GET"
        let path = "/apps/1/" + reader.word(from: wordAlphabet, limit: 20)
        var parameters: [(String, String)] = []
        for _ in 0..<(reader.byte() % 5) {
            let name = "x" + reader.word(from: keyAlphabet, limit: 10)
            let value = String(decoding: reader.chunk(limit: 32), as: UTF8.self)
            if !parameters.contains(where: { $0.0 == name }) { parameters.append((name, value)) }
        }
        let bodyBytes = reader.chunk(limit: 64)
        var body = bodyBytes.isEmpty ? nil : ByteBuffer(bytes: bodyBytes)
        let change = Change(rawValue: reader.byte() % UInt8(Change.allCases.count)) ?? .none
        let upperHex = reader.byte() & 1 == 0
        var timestamp = String(now - 600 + Int64(reader.byte()) * 4)
        switch change {
        case .staleTimestamp: timestamp = String(reader.byte() & 1 == 0 ? now - 601 - Int64(reader.byte()) : now + 601 + Int64(reader.byte()))
        case .anyTimestamp:
            // Any 64-bit value, or any text.
            let asNumber = reader.byte() & 1 == 0
            timestamp = asNumber ? String(Int64(bitPattern: reader.uint64())) : String(decoding: reader.chunk(limit: 24), as: UTF8.self)
        default: break
        }

        var signed = parameters
        signed.append(("auth_key", key))
        signed.append(("auth_timestamp", timestamp))
        signed.append(("auth_version", "1.0"))
        if let body { signed.append(("body_md5", PusherSignature.md5Hex(body))) }
        let string = stringToSign(signed, method: method, path: path)
        var signature = PusherSignature.hmacHex(secret: change == .otherSecret ? secret + "!" : secret, string: string)

        var sent = signed
        var changed = change == .otherSecret || change == .staleTimestamp
        switch change {
        case .signatureDigit:
            var digits = Array(signature)
            let index = Int(reader.byte()) % digits.count
            digits[index] = digits[index] == "0" ? "1" : "0"
            signature = String(digits)
            changed = true
        case .parameterValue where !parameters.isEmpty:
            sent[0].1 += "x"
            changed = true
        case .body:
            body = ByteBuffer(bytes: bodyBytes + [reader.byte()])
            changed = true
        case .droppedParameter where !parameters.isEmpty:
            sent.removeFirst()
            changed = true
        case .anyTimestamp:
            changed = !isFresh(timestamp)
        default:
            break
        }
        sent.append(("auth_signature", reader.byte() & 1 == 0 ? signature : signature.uppercased()))
        let query = sent.map { percentEncode($0.0, upperHex: upperHex) + "=" + percentEncode($0.1, upperHex: upperHex) }.joined(separator: "&")

        let request = PusherRequestSignature(query: query)
        let decoded = request.parameters.map { [$0.key, $0.value] }
        try require(decoded == sent.map { [$0.0, $0.1] }, "\(query.debugDescription) decodes to \(decoded), not \(sent)")
        if change == .none {
            let theirs = request.stringToSign(method: method, path: path)
            try require(theirs == string, "stringToSign \(theirs.debugDescription), the spec gives \(string.debugDescription)")
        }
        let accepted = (try? request.verify(method: method, paths: [path], body: body, key: key, secrets: [secret], now: now)) != nil
        try require(accepted == !changed, "\(change) request \(query.debugDescription) was \(accepted ? "accepted" : "refused")")
    }

    /// Whether `text` is a timestamp within the 600 s window around `now` (compared without overflowing).
    static func isFresh(_ text: String) -> Bool {
        guard let timestamp = Int64(text) else { return false }
        return timestamp >= now - 600 && timestamp <= now + 600
    }

    /// The signed string, built from the spec: keys sorted (bytewise), `k=v` joined by `&`, nothing encoded.
    static func stringToSign(_ parameters: [(String, String)], method: String, path: String) -> String {
        let sorted = parameters.filter { $0.0 != "auth_signature" }.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        return method + "\n" + path + "\n" + sorted.map { $0.0 + "=" + $0.1 }.joined(separator: "&")
    }

    /// Every byte but the unreserved ones as `%XX`.
    static func percentEncode(_ text: String, upperHex: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: upperHex)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }
}

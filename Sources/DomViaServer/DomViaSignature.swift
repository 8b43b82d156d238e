import Crypto
import Foundation

/// The signatures the Pusher protocol (and so DomVia Realtime on Switchboard) uses: HMAC-SHA256 in lowercase hex.
enum DomViaSignature {
    static func hmacHex(secret: String, _ text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    static func md5Hex(_ bytes: some DataProtocol) -> String {
        Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// `socket_id` as Switchboard issues it: two runs of digits around a dot.
    static func isSocketID(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.count <= 20 && $0.allSatisfy(\.isASCIIDigit) }
    }

    /// A channel name a client may be signed for: 1 to 200 of `A-Za-z0-9_-=@,.;` (never a reserved `#…` name).
    static func isChannelName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 200
            && text.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_-=@,.;".unicodeScalars.contains(scalar))
            }
    }
}

extension Character {
    var isASCIIDigit: Bool { self.isASCII && self.isNumber }
}

public import Crypto
public import Foundation

/// Seals secrets with AES-256-GCM under the master key, so the store file never holds them in plaintext.
///
/// Every seal draws a fresh random nonce and authenticates `context` (the key's id) with the ciphertext, so a
/// sealed secret copied into another row does not open; a wrong key fails to open instead of returning garbage.
public struct SecretBox: Sendable {
    /// A sealed value that did not open: the wrong master key, or a damaged row.
    public struct OpenError: Error, CustomStringConvertible {
        public var description: String { "a sealed secret does not open with this master key" }
    }

    private let key: SymmetricKey

    /// Creates a box around a 256-bit key.
    public init(key: SymmetricKey) {
        precondition(key.bitCount == 256, "the master key must be 32 bytes")
        self.key = key
    }

    /// Seals `plaintext`; returns the ciphertext with its tag appended, and the nonce.
    public func seal(_ plaintext: String, context: String) throws -> (sealed: Data, nonce: Data) {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: self.key, authenticating: Data(context.utf8))
        return (box.ciphertext + box.tag, Data(box.nonce))
    }

    /// Opens what `seal` produced with the same `context`.
    public func open(_ sealed: Data, nonce: Data, context: String) throws(OpenError) -> String {
        do {
            guard sealed.count >= 16 else { throw OpenError() }
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: nonce),
                ciphertext: sealed.prefix(sealed.count - 16),
                tag: sealed.suffix(16)
            )
            let plaintext = try AES.GCM.open(box, using: self.key, authenticating: Data(context.utf8))
            guard let text = String(data: plaintext, encoding: .utf8) else { throw OpenError() }
            return text
        } catch {
            throw OpenError()
        }
    }
}

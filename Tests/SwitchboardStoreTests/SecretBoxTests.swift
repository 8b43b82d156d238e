import Crypto
import Foundation
import Testing

@testable import SwitchboardStore

@Suite struct SecretBoxTests {
    let box = SecretBox(key: SymmetricKey(size: .bits256))

    @Test func sealedSecretOpensToTheSameText() throws {
        let (sealed, nonce) = try self.box.seal("sk_live_abcdef0123456789", context: "key_1")
        #expect(try self.box.open(sealed, nonce: nonce, context: "key_1") == "sk_live_abcdef0123456789")
    }

    @Test func anotherKeyDoesNotOpenIt() throws {
        let (sealed, nonce) = try self.box.seal("sk_live_abcdef0123456789", context: "key_1")
        let other = SecretBox(key: SymmetricKey(size: .bits256))
        #expect(throws: SecretBox.OpenError.self) { try other.open(sealed, nonce: nonce, context: "key_1") }
    }

    @Test func anotherRowsContextDoesNotOpenIt() throws {
        let (sealed, nonce) = try self.box.seal("sk_live_abcdef0123456789", context: "key_1")
        #expect(throws: SecretBox.OpenError.self) { try self.box.open(sealed, nonce: nonce, context: "key_2") }
    }

    @Test func ciphertextHoldsNoPlaintextAndDiffersEachTime() throws {
        let secret = "sk_live_abcdef0123456789"
        let first = try self.box.seal(secret, context: "key_1")
        let second = try self.box.seal(secret, context: "key_1")
        #expect(first.sealed.range(of: Data(secret.utf8)) == nil)
        #expect(first.sealed != Data(secret.utf8))
        #expect(first.sealed != second.sealed)
        #expect(first.nonce != second.nonce)
    }

    @Test func aDamagedCiphertextDoesNotOpen() throws {
        var (sealed, nonce) = try self.box.seal("sk_live_abcdef0123456789", context: "key_1")
        sealed[sealed.startIndex] ^= 0x01
        #expect(throws: SecretBox.OpenError.self) { try self.box.open(sealed, nonce: nonce, context: "key_1") }
    }
}

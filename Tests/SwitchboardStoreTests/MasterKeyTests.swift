import Crypto
import Foundation
import Testing

@testable import SwitchboardStore

@Suite struct MasterKeyTests {
    static func bytes(_ key: SymmetricKey) -> Data { key.withUnsafeBytes { Data($0) } }

    @Test func hexAndBase64NameTheKeyBytesThemselves() {
        let raw = Data((0..<32).map { UInt8($0) })
        let hex = raw.map { String(format: "%02x", $0) }.joined()
        #expect(Self.bytes(MasterKey.parse(hex)) == raw)
        #expect(Self.bytes(MasterKey.parse(raw.base64EncodedString())) == raw)
        #expect(Self.bytes(MasterKey.parse(" \(hex)\n")) == raw)
    }

    @Test func anyOtherTextIsAPassphraseHashedWithSHA256() {
        let key = MasterKey.parse("correct horse battery staple")
        #expect(Self.bytes(key) == Data(SHA256.hash(data: Data("correct horse battery staple".utf8))))
    }

    @Test func environmentWinsOverConfigWhichWinsOverTheFile() throws {
        let path = NSTemporaryDirectory() + "mk-\(UUID().uuidString)/store.sqlite"
        let fromEnv = try MasterKey.resolve(environment: "env", configured: "config", storePath: path)
        #expect(fromEnv.source == .environment && Self.bytes(fromEnv.key) == Self.bytes(MasterKey.parse("env")))
        let fromConfig = try MasterKey.resolve(environment: nil, configured: "config", storePath: path)
        #expect(fromConfig.source == .config && Self.bytes(fromConfig.key) == Self.bytes(MasterKey.parse("config")))
        #expect(!FileManager.default.fileExists(atPath: MasterKey.filePath(storePath: path)))
    }

    @Test func withoutAKeyOneIsGeneratedOnceIntoAPrivateFileAndReused() throws {
        let path = NSTemporaryDirectory() + "mk-\(UUID().uuidString)/store.sqlite"
        let generated = try MasterKey.resolve(environment: nil, configured: nil, storePath: path)
        let file = MasterKey.filePath(storePath: path)
        #expect(generated.source == .generated(file))
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try MasterKey.resolve(environment: nil, configured: nil, storePath: path)
        #expect(again.source == .file(file))
        #expect(Self.bytes(again.key) == Self.bytes(generated.key))
    }

    @Test func anInMemoryStoreGetsAnEphemeralKeyAndNoFile() throws {
        let key = try MasterKey.resolve(environment: nil, configured: nil, storePath: ":memory:")
        #expect(key.source == .ephemeral)
        #expect(!FileManager.default.fileExists(atPath: "master.key"))
    }
}

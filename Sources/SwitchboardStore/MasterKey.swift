public import Crypto
import Foundation

/// The 256-bit key that seals app secrets at rest, and where it came from.
///
/// Looked for in order: env `SWITCHBOARD_MASTER_KEY`, `[store] master_key`, the file `master.key` next to the
/// database; when none exists a random key is written to that file (mode 0600). A `:memory:` store uses a random
/// key that dies with the process.
public struct MasterKey: Sendable {
    /// Where the key was found.
    public enum Source: Sendable, Equatable {
        case environment
        case config
        case file(String)
        case generated(String)
        case ephemeral
    }

    /// The key.
    public let key: SymmetricKey
    /// Where it came from (for the start-up log; never the key itself).
    public let source: Source

    /// Reads a key from text: 64 hex digits or base64 of 32 bytes are the key's bytes; any other text is a
    /// passphrase, hashed with SHA-256 to 32 bytes (use a long random one: there is no slow key derivation).
    public static func parse(_ text: String) -> SymmetricKey {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count == 64, let bytes = Self.hexBytes(text) { return SymmetricKey(data: bytes) }
        if let bytes = Data(base64Encoded: text), bytes.count == 32 { return SymmetricKey(data: bytes) }
        return SymmetricKey(data: SHA256.hash(data: Data(text.utf8)))
    }

    /// Finds the key for the store at `storePath`, creating `master.key` beside it when nothing names one.
    public static func resolve(environment: String?, configured: String?, storePath: String) throws -> MasterKey {
        if let environment, !environment.isEmpty { return MasterKey(key: parse(environment), source: .environment) }
        if let configured, !configured.isEmpty { return MasterKey(key: parse(configured), source: .config) }
        if storePath == ":memory:" { return MasterKey(key: SymmetricKey(size: .bits256), source: .ephemeral) }
        let path = Self.filePath(storePath: storePath)
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            return MasterKey(key: parse(text), source: .file(path))
        }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        return MasterKey(key: key, source: .generated(path))
    }

    /// `<store dir>/master.key`.
    public static func filePath(storePath: String) -> String {
        ((storePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("master.key")
    }

    static func hexBytes(_ text: String) -> Data? {
        var bytes = Data(capacity: text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

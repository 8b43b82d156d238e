public import NIOCore
import Synchronization

/// A Lua script run with `EVALSHA`, loaded with `SCRIPT LOAD` on first use and again after `NOSCRIPT`
/// (a restarted Redis has forgotten its scripts).
public final class RedisScript: Sendable {
    /// The Lua source.
    public let source: String
    private let sha = Mutex<String?>(nil)

    /// Wraps `source`.
    public init(_ source: String) { self.source = source }

    fileprivate var loadedSHA: String? {
        get { self.sha.withLock { $0 } }
        set { self.sha.withLock { $0 = newValue } }
    }
}

extension RedisConnection {
    /// Runs `script` with `keys` and `arguments`; the reply is the script's return value.
    @discardableResult
    public func run(_ script: RedisScript, keys: [String], arguments: [ByteBuffer]) async throws -> RESPValue {
        if let sha = script.loadedSHA {
            do {
                return try await self.send(Self.evalsha(sha, keys: keys, arguments: arguments))
            } catch let error as RedisError where error.isNoScript {
                script.loadedSHA = nil
            }
        }
        let reply = try await self.send(RedisCommand("SCRIPT", "LOAD", script.source))
        guard let sha = reply.string else { throw RedisError.unexpectedReply("SCRIPT LOAD returned \(reply)") }
        script.loadedSHA = sha
        return try await self.send(Self.evalsha(sha, keys: keys, arguments: arguments))
    }

    private static func evalsha(_ sha: String, keys: [String], arguments: [ByteBuffer]) -> RedisCommand {
        var command = RedisCommand("EVALSHA", sha, String(keys.count))
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        return command
    }
}

import Foundation
import NIOCore
import NIOPosix

@testable import SwitchboardRedis

/// A real `redis-server` on a free loopback port, started for one test and stopped after it.
final class RedisServer: @unchecked Sendable {  // `process` is only touched by the test that owns the server, in sequence.
    let port: Int
    let extraArguments: [String]
    private var process: Process?

    static var isInstalled: Bool { Self.executable != nil }

    static var executable: String? {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    init(extraArguments: [String] = []) async throws {
        self.port = try await Self.freePort()
        self.extraArguments = extraArguments
        try await self.start()
    }

    var url: RedisURL { RedisURL(host: "127.0.0.1", port: self.port) }

    /// Starts (or restarts) the server on the same port, with no persistence, and waits until it accepts connections.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable ?? "/usr/bin/redis-server")
        process.arguments =
            [
                "--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
            ] + self.extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // Bounded: redis-server takes a few milliseconds to listen.
        for _ in 0..<200 {
            if await Self.accepts(port: self.port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RedisError.unavailable("redis-server did not start on port \(self.port)")
    }

    /// Kills the server (SIGKILL: what it held is lost) and waits for it to exit.
    func stop() {
        guard let process = self.process else { return }
        process.interrupt()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    deinit { self.stop() }

    private static func accepts(port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    private static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }
}

/// Runs `body` with a fresh redis-server, stopping it afterwards whatever happens.
func withRedisServer(extraArguments: [String] = [], _ body: (RedisServer) async throws -> Void) async throws {
    let server = try await RedisServer(extraArguments: extraArguments)
    defer { server.stop() }
    try await body(server)
}

public import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
import Synchronization

/// Why a Redis command failed.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case unavailable(String)
        case timedOut(String)
        case server(String)
        case unexpectedReply(String)
    }

    private let kind: Kind

    /// The connection is down or dropped before the reply came: the command may not have run.
    public static func unavailable(_ reason: String) -> Self { Self(kind: .unavailable(reason)) }
    /// No reply came within the command timeout: the command may still run later (Redis paused, overloaded or gone
    /// without a reset). Counts as unavailable, so the engine answers "try again".
    public static func timedOut(_ reason: String) -> Self { Self(kind: .timedOut(reason)) }
    /// Redis answered with an error reply (`-ERR ...`).
    public static func server(_ message: String) -> Self { Self(kind: .server(message)) }
    /// Redis answered with something the caller did not expect.
    public static func unexpectedReply(_ detail: String) -> Self { Self(kind: .unexpectedReply(detail)) }

    /// True when the connection was down or Redis did not answer in time, so the caller can report "try again".
    public var isUnavailable: Bool {
        switch self.kind {
        case .unavailable, .timedOut: true
        default: false
        }
    }

    /// True when the command timed out.
    public var isTimeout: Bool {
        if case .timedOut = self.kind { return true }
        return false
    }

    /// True for `NOSCRIPT`: EVALSHA of a script Redis does not have (after a restart or SCRIPT FLUSH).
    public var isNoScript: Bool {
        if case .server(let message) = self.kind { return message.hasPrefix("NOSCRIPT") }
        return false
    }

    public var description: String {
        switch self.kind {
        case .unavailable(let reason): "redis unavailable: \(reason)"
        case .timedOut(let reason): "redis timed out: \(reason)"
        case .server(let message): "redis error: \(message)"
        case .unexpectedReply(let detail): "unexpected redis reply: \(detail)"
        }
    }
}

/// A Redis client connection over SwiftNIO that reconnects by itself.
///
/// `run()` connects, logs in (`HELLO 3` or `AUTH`), selects the database, then waits for the connection to
/// drop and starts again after a backoff (doubling from `minimumBackoff` to `maximumBackoff`) until its task
/// is cancelled. Commands are pipelined: each is written at once and its promise waits in a FIFO for the
/// reply. While the connection is down `send` fails at once with `RedisError.unavailable`: nothing is queued.
/// Every command, the login's included, fails with `RedisError.timedOut` when its reply takes longer than
/// `commandTimeout`; the connection then counts as stalled (`isStalled`) until a reply comes in time again.
///
/// ```swift
/// let connection = RedisConnection(configuration: .init(url: try RedisURL(parsing: "redis://127.0.0.1:6379/0")))
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { await connection.run() }
///     _ = try await connection.send(RedisCommand("SET", "greeting", "hello"))
/// }
/// ```
public final class RedisConnection: Sendable {
    /// How to reach Redis and how to behave when it is gone.
    public struct Configuration: Sendable {
        /// The server and credentials.
        public var url: RedisURL
        /// Speak RESP3 (`HELLO 3`) instead of RESP2. Default false.
        public var resp3 = false
        /// The client name shown by `CLIENT LIST`. Default `switchboard`.
        public var clientName = "switchboard"
        /// How long a TCP connect may take. Default 2 s.
        public var connectTimeout: Duration = .seconds(2)
        /// How long a command may wait for its reply (`[engine] command_timeout_ms`). Default 2 s.
        public var commandTimeout: Duration = .seconds(2)
        /// The first wait before reconnecting. Default 50 ms.
        public var minimumBackoff: Duration = .milliseconds(50)
        /// The longest wait before reconnecting. Default 2 s.
        public var maximumBackoff: Duration = .seconds(2)
        /// Parser limits for replies.
        public var parser = RESPParser()
        /// PEM file of the certificate authorities that sign the server's certificate (`rediss://`); nil trusts
        /// the system's.
        public var tlsCAFile: String?

        /// Creates a configuration for `url` with the defaults above.
        public init(url: RedisURL) { self.url = url }
    }

    /// The connection's state as callers see it.
    public enum Status: Sendable, Equatable {
        /// Not connected yet, or reconnecting.
        case connecting
        /// Connected and logged in.
        case ready
        /// `run()` has returned.
        case stopped
    }

    private struct State {
        var status: Status = .connecting
        var channel: (any Channel)?
    }

    /// The configuration the connection was made with.
    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let subscriber: Bool
    private let onPush: (@Sendable (RESPValue) -> Void)?
    private let sslContext = Mutex<NIOSSLContext?>(nil)
    private let onReady: (@Sendable (any Channel) -> Void)?
    private let onDown: (@Sendable () -> Void)?
    private let state = Mutex(State())
    /// Hears each command's round trip (metrics).
    public let timer = RedisCommandTimer()
    private let responsiveness = RedisResponsiveness()

    /// Creates a connection; nothing happens until `run()`.
    ///
    /// - Parameters:
    ///   - subscriber: true for a pub/sub connection: `message` arrays are pushes, not replies.
    ///   - onPush: receives pushes (pub/sub messages), on the connection's event loop, in arrival order.
    ///   - onReady: called on each (re)connection after login, before callers can send.
    ///   - onDown: called each time the connection is lost.
    public init(
        configuration: Configuration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "switchboard.redis"),
        subscriber: Bool = false,
        onPush: (@Sendable (RESPValue) -> Void)? = nil,
        onReady: (@Sendable (any Channel) -> Void)? = nil,
        onDown: (@Sendable () -> Void)? = nil
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.subscriber = subscriber
        self.onPush = onPush
        self.onReady = onReady
        self.onDown = onDown
    }

    /// Where the connection stands.
    public var status: Status { self.state.withLock { $0.status } }

    /// True while Redis is not answering in time: a command timed out and no reply has come within the timeout since.
    public var isStalled: Bool { self.responsiveness.isStalled }

    /// Keeps the connection up until the task is cancelled.
    public func run() async {
        var backoff = self.configuration.minimumBackoff
        var failures = 0
        while !Task.isCancelled {
            do {
                let channel = try await self.connect()
                do {
                    try await self.handshake(channel)
                } catch {
                    channel.close(promise: nil)
                    throw error
                }
                // Resubscribe (onReady) before callers see the connection as ready.
                self.responsiveness.answered()
                self.onReady?(channel)
                self.state.withLock { state in
                    state.channel = channel
                    state.status = .ready
                }
                if failures > 0 { self.logger.notice("reconnected to \(self.configuration.url)") }
                self.logger.debug("connected to \(self.configuration.url)")
                failures = 0
                backoff = self.configuration.minimumBackoff
                await withTaskCancellationHandler {
                    try? await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
                self.state.withLock { state in
                    state.channel = nil
                    state.status = .connecting
                }
                self.onDown?()
                if !Task.isCancelled { self.logger.warning("lost the connection to \(self.configuration.url); reconnecting") }
            } catch {
                failures += 1
                // The first failure in a row is a warning; the retries after it are quieter.
                let level: Logger.Level = failures == 1 ? .warning : .debug
                self.logger.log(level: level, "cannot connect to \(self.configuration.url): \(error); retrying")
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, self.configuration.maximumBackoff)
        }
        self.state.withLock { state in
            state.status = .stopped
            state.channel = nil
        }
    }

    /// Waits until the connection is ready (or `run()` has stopped), at most `timeout`; returns whether it is ready.
    ///
    /// For start-up checks and tests: it looks every 10 ms, so it never parks a continuation that could be lost.
    public func waitUntilReady(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.status == .connecting && ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                break
            }
        }
        return self.status == .ready
    }

    /// Sends `command` and waits for its reply; an error reply throws `RedisError.server`.
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        guard let channel = self.state.withLock({ $0.channel }) else {
            throw RedisError.unavailable("not connected to \(self.configuration.url)")
        }
        let started = ContinuousClock.now
        defer { self.timer.record(ContinuousClock.now - started) }
        return try await Self.send(command, on: channel).get()
    }

    /// Writes `command` on `channel` (one with a Redis handler); the future holds the reply.
    public static func send(_ command: RedisCommand, on channel: any Channel) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        // A write that never reaches the handler (the channel closed and its pipeline is gone) must still
        // fail the reply; completing a promise twice is a no-op, so the handler failing it too is harmless.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in promise.fail(RedisError.unavailable("write failed: \(error)")) }
        channel.writeAndFlush(RedisRequest(command: command, promise: promise), promise: written)
        return promise.futureResult
    }

    /// The TLS context for `rediss://`, made once: the CA file is read when the first connection is made.
    private func tlsContext() throws -> NIOSSLContext {
        try self.sslContext.withLock { cached in
            if let cached { return cached }
            var tls = TLSConfiguration.makeClientConfiguration()
            if let file = self.configuration.tlsCAFile { tls.trustRoots = .file(file) }
            let context = try NIOSSLContext(configuration: tls)
            cached = context
            return context
        }
    }

    private func connect() async throws -> any Channel {
        let url = self.configuration.url
        let ssl = try url.tls ? self.tlsContext() : nil
        // SNI and name checks want a host name; an address literal is checked against the certificate's IP entries.
        let serverName = (try? SocketAddress(ipAddress: url.host, port: 0)) == nil ? url.host : nil
        let parser = self.configuration.parser
        let subscriber = self.subscriber
        let onPush = self.onPush
        let timeout = self.configuration.connectTimeout.components
        let milliseconds = timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000
        let commandTimeout = self.configuration.commandTimeout
        let responsiveness = self.responsiveness
        return try await ClientBootstrap(group: self.group)
            .connectTimeout(.milliseconds(milliseconds))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let ssl { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: serverName)) }
                    try channel.pipeline.syncOperations.addHandler(
                        RedisClientHandler(
                            parser: parser,
                            subscriber: subscriber,
                            onPush: onPush,
                            commandTimeout: commandTimeout,
                            responsiveness: responsiveness
                        )
                    )
                }
            }
            .connect(host: self.configuration.url.host, port: self.configuration.url.port)
            .get()
    }

    private func handshake(_ channel: any Channel) async throws {
        let url = self.configuration.url
        if self.configuration.resp3 {
            var hello = RedisCommand("HELLO", "3")
            if let password = url.password {
                hello.append("AUTH")
                hello.append(url.user ?? "default")
                hello.append(password)
            }
            try Self.check(try await Self.send(hello, on: channel).get())
        } else if let password = url.password {
            var auth = RedisCommand("AUTH")
            if let user = url.user { auth.append(user) }
            auth.append(password)
            try Self.check(try await Self.send(auth, on: channel).get())
        }
        if url.database != 0 {
            try Self.check(try await Self.send(RedisCommand("SELECT", String(url.database)), on: channel).get())
        }
        // Best effort: an ACL may forbid CLIENT SETNAME.
        _ = try? await Self.send(RedisCommand("CLIENT", "SETNAME", self.configuration.clientName), on: channel).get()
    }

    private static func check(_ reply: RESPValue) throws {
        if case .error(let message) = reply { throw RedisError.server(String(buffer: message)) }
    }
}

/// A command and the promise its reply completes.
struct RedisRequest: Sendable {
    var command: RedisCommand
    var promise: EventLoopPromise<RESPValue>
}

/// Whether Redis answers in time, shared by a connection and its handler (which runs on the event loop).
final class RedisResponsiveness: Sendable {
    private let stalled = Atomic<Bool>(false)

    /// True after a command timed out, until a reply comes within its timeout.
    var isStalled: Bool { self.stalled.load(ordering: .relaxed) }

    /// A command got no reply in time.
    func timedOut() { self.stalled.store(true, ordering: .relaxed) }

    /// A reply came in time (or the connection is new).
    func answered() {
        if self.stalled.load(ordering: .relaxed) { self.stalled.store(false, ordering: .relaxed) }
    }
}

/// The wire shell around `RESPParser`: encodes requests, parses replies, pairs them with promises in order.
///
/// Each command's promise fails with `RedisError.timedOut` at its deadline; its entry stays in the FIFO, as Redis
/// still owes that reply, which then completes nothing. While Redis is silent at most `maxPending` commands wait:
/// more fail at once instead of piling up in memory.
final class RedisClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    /// A command waiting for its reply.
    struct Pending {
        var promise: EventLoopPromise<RESPValue>
        var deadline: NIODeadline
        var timeout: Scheduled<Void>
    }

    /// Commands that may wait for replies at once; past this Redis is plainly not keeping up.
    static let maxPending = 100_000

    private let parser: RESPParser
    private let subscriber: Bool
    private let onPush: (@Sendable (RESPValue) -> Void)?
    private let commandTimeout: TimeAmount
    private let responsiveness: RedisResponsiveness
    private var buffer: ByteBuffer?
    private var pending = CircularBuffer<Pending>()
    private var closed = false

    init(
        parser: RESPParser,
        subscriber: Bool,
        onPush: (@Sendable (RESPValue) -> Void)?,
        commandTimeout: Duration = .seconds(2),
        responsiveness: RedisResponsiveness = RedisResponsiveness()
    ) {
        self.parser = parser
        self.subscriber = subscriber
        self.onPush = onPush
        let parts = commandTimeout.components
        self.commandTimeout = .nanoseconds(max(1, parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000))
        self.responsiveness = responsiveness
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        guard !self.closed else {
            request.promise.fail(RedisError.unavailable("the connection is closed"))
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard self.pending.count < Self.maxPending else {
            request.promise.fail(RedisError.timedOut("\(self.pending.count) commands are waiting for replies"))
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let deadline = context.eventLoop.now + self.commandTimeout
        let reply = request.promise
        let responsiveness = self.responsiveness
        let milliseconds = self.commandTimeout.nanoseconds / 1_000_000
        let timeout = context.eventLoop.scheduleTask(deadline: deadline) {
            responsiveness.timedOut()
            reply.fail(RedisError.timedOut("no reply within \(milliseconds) ms"))
        }
        self.pending.append(Pending(promise: reply, deadline: deadline, timeout: timeout))
        var out = context.channel.allocator.buffer(capacity: 64)
        request.command.write(into: &out)
        context.write(self.wrapOutboundOut(out), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        if self.buffer == nil || self.buffer!.readableBytes == 0 {
            self.buffer = incoming
        } else {
            self.buffer!.writeBuffer(&incoming)
        }
        do {
            while var current = self.buffer, let value = try self.parser.next(from: &current) {
                self.buffer = current
                self.dispatch(value, context: context)
            }
            if let current = self.buffer, current.readerIndex > 64 * 1024 {
                var compact = current
                compact.discardReadBytes()
                self.buffer = compact
            }
        } catch {
            self.failAll(RedisError.unexpectedReply("\(error)"))
            context.close(promise: nil)
        }
    }

    private func dispatch(_ value: RESPValue, context: ChannelHandlerContext) {
        let kind = value.elements?.first?.string?.lowercased()
        var isPush = false
        if case .push = value { isPush = true }
        let isMessage = kind == "message" || kind == "pmessage" || kind == "smessage"
        let isConfirmation =
            kind.map { ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"].contains($0) } ?? false
        if (isMessage && (isPush || self.subscriber)) || (isPush && !isConfirmation) {
            self.onPush?(value)
            return
        }
        guard let entry = self.pending.popFirst() else {
            self.failAll(RedisError.unexpectedReply("a reply no command waited for"))
            context.close(promise: nil)
            return
        }
        entry.timeout.cancel()
        if context.eventLoop.now <= entry.deadline { self.responsiveness.answered() }
        // After a timeout the promise is already failed: completing it again does nothing.
        let promise = entry.promise
        if case .error(let message) = value {
            promise.fail(RedisError.server(String(buffer: message)))
        } else {
            promise.succeed(value)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RedisError.unavailable("the connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(RedisError.unavailable("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        self.closed = true
        while let entry = self.pending.popFirst() {
            entry.timeout.cancel()
            entry.promise.fail(error)
        }
    }
}

import NIOCore
import NIOHTTP1
import NIOPosix

extension Bench {
    /// Publishes through `lanes` keep-alive HTTP/1.1 connections at once, so at most `lanes` publishes are in flight.
    struct Publisher: Sendable {
        let server: SocketAddress
        let request: PublishRequest
        let lanes: Int
        let rate: Int
        let messages: Int?
        let group: MultiThreadedEventLoopGroup
        let connectTimeout: TimeAmount

        /// Runs every lane from `start` until `deadline` (monotonic nanoseconds) or the message count, and adds up what they sent.
        func run(start: UInt64, deadline: UInt64?) async -> PublisherTally {
            await withTaskGroup(of: PublisherTally.self) { group in
                for lane in 0..<self.lanes {
                    let schedule = PublishSchedule(
                        lane: lane,
                        lanes: self.lanes,
                        rate: self.rate,
                        start: start,
                        deadline: deadline,
                        messages: self.messages
                    )
                    let loop = self.group.next()
                    group.addTask { await self.run(schedule, on: loop) }
                }
                var total = PublisherTally()
                for await tally in group { total.merge(tally) }
                return total
            }
        }

        /// One lane: reconnects when the server drops its connection (nginx after `keepalive_requests`, a timeout), up to a few times without progress.
        func run(_ schedule: PublishSchedule, on loop: any EventLoop) async -> PublisherTally {
            var schedule = schedule
            var tally = PublisherTally()
            var failures = 0
            while failures < 3, schedule.step(now: Bench.now()) != .finished {
                do {
                    let outcome = try await self.connect(schedule, on: loop).get()
                    failures = outcome.schedule.sent > schedule.sent ? 0 : failures + 1
                    schedule = outcome.schedule
                    tally.merge(outcome.tally)
                    if outcome.finished { break }
                } catch {
                    failures += 1
                    tally.connectFailures += 1
                    tally.note(error: "publish connection: \(error)")
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            return tally
        }

        func connect(_ schedule: PublishSchedule, on loop: any EventLoop) async throws -> EventLoopFuture<PublisherHandler.Outcome> {
            let request = self.request
            return try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .connectTimeout(self.connectTimeout)
                .connect(to: self.server) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let done = channel.eventLoop.makePromise(of: PublisherHandler.Outcome.self)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(PublisherHandler(schedule: schedule, request: request, done: done))
                        return done.futureResult
                    }
                }
        }
    }
}

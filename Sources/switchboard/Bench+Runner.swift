import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Bench {
    /// One run: connect and subscribe everyone, publish, drain, sample memory, close, report.
    struct Runner: Sendable {
        let scenario: Scenario
        let group: MultiThreadedEventLoopGroup

        /// One tally per event loop, so receiving takes no lock; read through the loop itself.
        struct LoopTally: Sendable {
            let loop: any EventLoop
            let box: NIOLoopBoundBox<Tally>
        }

        func run() async throws -> Report {
            let scenario = self.scenario
            var report = Report(wire: scenario.wire)
            report.subscribers = scenario.subscribers
            report.threads = scenario.threads
            report.rate = scenario.idle ? 0 : scenario.rate
            report.size = scenario.size
            report.compression = scenario.compression
            report.textPadding = scenario.textPadding
            let tallies = self.group.makeIterator().map { loop in
                LoopTally(loop: loop, box: NIOLoopBoundBox.makeBoxSendingValue(Tally(), eventLoop: loop))
            }
            let memoryBefore = ProcessMemory.residentKilobytes(of: scenario.serverPids)

            // Connect and subscribe.
            let connectStart = Bench.now()
            let connected = await self.connectAll(to: scenario.subscribeTo, tallies: tallies)
            report.connectSeconds = Double(Bench.now() - connectStart) / 1e9
            report.connections = connected.channels.count
            report.connectTime = connected.times
            report.connectFailures = connected.failures
            report.firstConnectError = connected.firstError
            let readySubscribers = connected.ready.sorted()
            let channels = scenario.channelsPerSubscriber == 0 ? [scenario.channel] : readySubscribers.flatMap { scenario.channels(ofSubscriber: $0) }
            report.channels = channels.count
            Self.progress(
                "connected \(report.connections)/\(scenario.subscribers) subscribers in \(Self.seconds(report.connectSeconds)) s"
                    + (connected.failures > 0 ? " (\(connected.failures) failed: \(connected.firstError ?? ""))" : "")
            )
            var memorySubscribed: Int?
            if memoryBefore != nil {
                try await Task.sleep(for: .seconds(scenario.settle))
                memorySubscribed = ProcessMemory.residentKilobytes(of: scenario.serverPids)
            }

            // Publish, then wait for what is still on its way.
            if !scenario.idle, !connected.channels.isEmpty {
                let publisher = Publisher(
                    server: try scenario.publish.address(),
                    request: PublishRequest(
                        wire: scenario.wire,
                        hostHeader: scenario.publish.hostHeader,
                        pathTemplate: scenario.publish.path,
                        secret: scenario.secret,
                        channels: channels,
                        size: scenario.size,
                        textPadding: scenario.textPadding
                    ),
                    lanes: scenario.publishers,
                    rate: scenario.rate,
                    messages: scenario.messages,
                    group: self.group,
                    connectTimeout: scenario.connectTimeout
                )
                let start = Bench.now() + 10_000_000
                let deadline = scenario.duration.map { start + UInt64($0 * 1e9) }
                Self.progress(
                    "publishing" + (scenario.rate > 0 ? " \(scenario.rate)/s" : " as fast as answered") + " to \(channels.count) channel(s)"
                )
                let before = await Self.collect(tallies).wireBytes
                let cpuBefore = ProcessCPU.seconds(of: scenario.serverPids)
                report.publishing = await publisher.run(start: start, deadline: deadline)
                let perChannel = scenario.channelsPerSubscriber == 0 ? UInt64(report.connections) : 1
                report.expected = UInt64(report.publishing.accepted) * perChannel
                let drainEnd = Bench.now() + UInt64(scenario.drain * 1e9)
                while Bench.now() < drainEnd, await Self.collect(tallies).received < report.expected {
                    try await Task.sleep(for: .milliseconds(20))
                }
                report.publishWireBytes = await Self.collect(tallies).wireBytes - before
                if let cpuBefore, let cpuAfter = ProcessCPU.seconds(of: scenario.serverPids) { report.serverCPUSeconds = cpuAfter - cpuBefore }
            } else if scenario.idle {
                Self.progress("idle: holding \(report.connections) connections")
            }
            report.delivery = await Self.collect(tallies)
            if let first = report.publishing.firstSend {
                report.publishSeconds = Double(report.publishing.lastSend - first) / 1e9
                report.deliverySeconds = Double(max(report.delivery.lastReceive, first) - first) / 1e9
            }
            if let before = memoryBefore, let subscribed = memorySubscribed {
                let end = ProcessMemory.residentKilobytes(of: scenario.serverPids) ?? subscribed
                report.serverMemory = ServerMemory(before: before, subscribed: subscribed, end: end)
            }
            report.clientMemory = ProcessMemory.residentKilobytes(of: getpid())

            // Close everyone (after the tallies are read, so these closes do not count as disconnects).
            for channel in connected.channels { channel.close(promise: nil) }
            for channel in connected.channels { try? await channel.closeFuture.get() }
            return report
        }

        /// The subscribers that connected, and what connecting cost.
        struct Connected: Sendable {
            var channels: [any Channel] = []
            var ready: [Int] = []
            var times = LatencyHistogram()
            var failures = 0
            var firstError: String?
        }

        /// Opens every subscriber, `connectConcurrency` at a time, spread round-robin over the event loops.
        func connectAll(to servers: [SocketAddress], tallies: [LoopTally]) async -> Connected {
            let scenario = self.scenario
            let connector = SubscriberConnector(
                servers: servers,
                hostHeader: scenario.subscribe.hostHeader,
                wire: scenario.wire,
                maxFrameSize: max(1 << 16, scenario.size * 2 + 4096),
                timeout: scenario.connectTimeout,
                sourceAddresses: scenario.sourceAddresses,
                since: Bench.now(),
                compression: scenario.compression
            )
            return await withTaskGroup(of: (Int, Result<any Channel, any Error>, UInt64).self) { group in
                var next = 0
                func startNext() {
                    let index = next
                    next += 1
                    let tally = tallies[index % tallies.count]
                    let channels = scenario.channels(ofSubscriber: index)
                    let path = scenario.subscribe.path.replacing("{channel}", with: channels[0])
                    group.addTask {
                        let start = Bench.now()
                        do {
                            let channel = try await connector.connect(
                                index: index,
                                path: path,
                                channels: channels,
                                loop: tally.loop,
                                tally: tally.box
                            )
                            return (index, .success(channel), Bench.now() - start)
                        } catch {
                            return (index, .failure(error), Bench.now() - start)
                        }
                    }
                }
                while next < min(scenario.connectConcurrency, scenario.subscribers) { startNext() }
                var connected = Connected()
                connected.channels.reserveCapacity(scenario.subscribers)
                for await (index, result, elapsed) in group {
                    switch result {
                    case .success(let channel):
                        connected.channels.append(channel)
                        connected.ready.append(index)
                        connected.times.record(nanoseconds: elapsed)
                    case .failure(let error):
                        connected.failures += 1
                        if connected.firstError == nil { connected.firstError = "subscriber \(index): \(error)" }
                    }
                    if next < scenario.subscribers { startNext() }
                }
                return connected
            }
        }

        /// Adds up every loop's tally.
        static func collect(_ tallies: [LoopTally]) async -> Tally {
            var total = Tally()
            for tally in tallies {
                let box = tally.box
                if let copy = try? await tally.loop.submit({ box.value }).get() { total.merge(copy) }
            }
            return total
        }

        /// A line for the person watching, on stderr: stdout carries only the JSON result.
        static func progress(_ line: String) {
            let bytes = Array("bench: \(line)\n".utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }

        static func seconds(_ value: Double) -> String { String((value * 10).rounded() / 10) }
    }
}

import Foundation
import Prometheus
import Synchronization

/// The process's own figures, read from `/proc/self` at each scrape under the names every Prometheus client uses
/// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, …), so stock dashboards work.
///
/// Where `/proc` is missing (macOS) the families stay at 0.
final class ProcessMetrics: Sendable {
    /// One reading of `/proc/self`.
    struct Reading: Equatable {
        var cpuSeconds: Double
        var residentBytes: Double
        var virtualBytes: Double
        var startTimeSeconds: Double
    }

    let cpu: Counter
    let resident: Gauge
    let virtual: Gauge
    let openFDs: Gauge
    let maxFDs: Gauge
    let startTime: Gauge
    /// CPU seconds already added to the counter (a counter only grows by increments).
    private let counted = Mutex(0.0)

    init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: metric, unitName: unit, helpText: help)
        }
        self.cpu = registry.makeCounter(descriptor: name("cpu", "seconds_total", "User and system CPU time spent, in seconds."))
        self.resident = registry.makeGauge(descriptor: name("resident_memory", "bytes", "Resident memory size, in bytes."))
        self.virtual = registry.makeGauge(descriptor: name("virtual_memory", "bytes", "Virtual memory size, in bytes."))
        self.openFDs = registry.makeGauge(descriptor: name("open", "fds", "Open file descriptors (sockets included)."))
        self.maxFDs = registry.makeGauge(descriptor: name("max", "fds", "The soft limit on open file descriptors."))
        self.startTime = registry.makeGauge(descriptor: name("start_time", "seconds", "When the process started, in seconds since the Unix epoch."))
    }

    /// Brings every family up to date.
    func refresh() {
        if let reading = Self.read() {
            self.counted.withLock { counted in
                if reading.cpuSeconds > counted {
                    self.cpu.increment(by: reading.cpuSeconds - counted)
                    counted = reading.cpuSeconds
                }
            }
            self.resident.set(reading.residentBytes)
            self.virtual.set(reading.virtualBytes)
            self.startTime.set(reading.startTimeSeconds)
        }
        if let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            // Listing the folder opens one descriptor of its own.
            self.openFDs.set(Double(max(0, names.count - 1)))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { self.maxFDs.set(Double(limit.rlim_cur)) }
    }

    /// `/proc/self/stat` and the boot time from `/proc/stat`, or nil where they cannot be read.
    static func read() -> Reading? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8)
        else { return nil }
        let bootTime = system.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
        return Self.parse(
            stat: stat,
            bootTime: bootTime ?? 0,
            ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
            pageSize: Double(sysconf(Int32(_SC_PAGESIZE)))
        )
    }

    /// Parses `/proc/self/stat`: the fields after the command name (which may hold spaces and parentheses) are
    /// state, …, utime (14th field), stime (15th), …, starttime (22nd), vsize (23rd), rss in pages (24th).
    static func parse(stat: String, bootTime: Double, ticksPerSecond: Double, pageSize: Double) -> Reading? {
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 21, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]),
            let virtual = Double(fields[20]), let pages = Double(fields[21])
        else { return nil }
        return Reading(
            cpuSeconds: (user + system) / ticksPerSecond,
            residentBytes: pages * pageSize,
            virtualBytes: virtual,
            startTimeSeconds: bootTime + start / ticksPerSecond
        )
    }
}

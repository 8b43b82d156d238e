#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Bench {
    /// Resident memory of processes, from `/proc/PID/status` (Linux only; nil elsewhere or for a process that is gone).
    enum ProcessMemory {
        /// The summed `VmRSS` of `pids` in kB: several pids cover a master and its workers.
        static func residentKilobytes(of pids: [Int32]) -> Int? {
            guard !pids.isEmpty else { return nil }
            var total = 0
            for pid in pids {
                guard let kilobytes = self.residentKilobytes(of: pid) else { return nil }
                total += kilobytes
            }
            return total
        }

        static func residentKilobytes(of pid: Int32) -> Int? {
            guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard text.hasPrefix("VmRSS:") else { continue }
                return Int(text.dropFirst(6).filter(\.isNumber))
            }
            return nil
        }
    }

    /// The server's resident memory (kB) before connecting, once every subscriber is ready, and at the end.
    struct ServerMemory: Sendable {
        var before: Int
        var subscribed: Int
        var end: Int
    }
}

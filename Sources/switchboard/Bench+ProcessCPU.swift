#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Bench {
    /// CPU time of processes, from `/proc/PID/stat` (Linux only; nil elsewhere or for a process that is gone).
    enum ProcessCPU {
        /// The summed user and system CPU seconds of `pids`.
        static func seconds(of pids: [Int32]) -> Double? {
            guard !pids.isEmpty else { return nil }
            var total = 0.0
            for pid in pids {
                guard let seconds = self.seconds(of: pid) else { return nil }
                total += seconds
            }
            return total
        }

        static func seconds(of pid: Int32) -> Double? {
            guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 1024)
            guard fgets(&line, Int32(line.count), file) != nil else { return nil }
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            guard let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            // After the name: state is field 3, utime field 14, stime field 15.
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }
}

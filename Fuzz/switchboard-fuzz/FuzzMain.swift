import SwitchboardFuzz

#if canImport(Glibc)
    import Glibc
#endif

#if FUZZING
    import CLibFuzzer

    /// The target libFuzzer's callback runs; set once in `main` before the loop starts.
    nonisolated(unsafe) private var selected: FuzzTarget?

    /// libFuzzer's entry: one input through the selected target; a failed property stops the run as a crash.
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        guard let target = selected else { return 0 }
        let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        do {
            try target.check(input)
        } catch {
            fatalError("\(target.name): \(error.message)")
        }
        return 0
    }
#endif

/// `switchboard-fuzz TARGET [libFuzzer flags] [corpus dirs]` when built by `scripts/fuzz`; in a normal build,
/// `switchboard-fuzz TARGET FILE...` replays files through the target's check. `--list` prints each target and its -max_len.
@main
struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 2 && arguments[1] == "--list" {
            for target in FuzzTarget.all { print(target.name, target.maxLength) }
            exit(0)
        }
        guard arguments.count >= 2, let target = FuzzTarget.named(arguments[1]) else {
            let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
            print("usage: switchboard-fuzz TARGET [FILE...]; targets: \(names)")
            exit(2)
        }
        #if FUZZING
            selected = target
            // libFuzzer sees argv without the target name.
            var argc = CommandLine.argc - 1
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            argv![1] = argv![0]
            argv = argv! + 1
            exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
            var failed = 0
            for path in arguments.dropFirst(2) {
                guard let input = readFile(path) else {
                    print("\(path): cannot read")
                    failed += 1
                    continue
                }
                do {
                    try target.check(input)
                } catch {
                    print("\(path): \(error.message)")
                    failed += 1
                }
            }
            print("\(target.name): \(arguments.count - 2 - failed) of \(arguments.count - 2) inputs passed")
            exit(failed == 0 ? 0 : 1)
        #endif
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }
}

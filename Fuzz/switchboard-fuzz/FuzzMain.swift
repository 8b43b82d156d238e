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
/// Names the target for the processes libFuzzer starts itself.
let targetVariable = "SWITCHBOARD_FUZZ_TARGET"

@main
struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 2 && arguments[1] == "--list" {
            for target in FuzzTarget.all { print(target.name, target.maxLength) }
            exit(0)
        }
        let named = arguments.count >= 2 ? FuzzTarget.named(arguments[1]) : nil
        guard let target = named ?? getenv(targetVariable).flatMap({ FuzzTarget.named(String(cString: $0)) }) else {
            let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
            print("usage: switchboard-fuzz TARGET [FILE...]; targets: \(names)")
            exit(2)
        }
        #if FUZZING
            selected = target
            // libFuzzer sees argv without the target name; the processes it starts itself (`-merge=1`, `-fork`,
            // `-jobs`) run that argv, so they learn the target from the environment.
            setenv(targetVariable, target.name, 1)
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            if arguments[1] == target.name {
                argv![1] = argv![0]
                argv = argv! + 1
                argc -= 1
            }
            exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
            let files = arguments.dropFirst(named == nil ? 1 : 2)
            var failed = 0
            for path in files {
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
            print("\(target.name): \(files.count - failed) of \(files.count) inputs passed")
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

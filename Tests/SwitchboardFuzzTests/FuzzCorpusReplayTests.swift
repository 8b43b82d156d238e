import Foundation
import SwitchboardFuzz
import Testing

/// Replays every committed corpus file through its fuzz target's check, so what the fuzzer kept (and every
/// crash it once found) stays a regression test in `swift test`, without the sanitizer build.
@Suite struct FuzzCorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../Fuzz/corpus").standardized

    static func files(of target: FuzzTarget) throws -> [URL] {
        let folder = Self.corpus.appending(path: target.name)
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func everyCorpusInputPassesItsTargetsChecks(name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let files = try Self.files(of: target)
        #expect(!files.isEmpty, "Fuzz/corpus/\(name) holds no seeds")
        for file in files {
            let input = [UInt8](try Data(contentsOf: file))
            do {
                try target.check(input)
            } catch {
                Issue.record("\(name)/\(file.lastPathComponent): \(error.message)")
            }
        }
    }

    @Test func everyTargetHasACorpusFolder() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { !$0.hasPrefix(".") }
        #expect(Set(folders) == Set(FuzzTarget.all.map(\.name)))
    }
}

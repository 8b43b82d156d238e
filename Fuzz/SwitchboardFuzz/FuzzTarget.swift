/// One parser under fuzzing: `check` feeds it an input and throws when a property of the result fails.
///
/// The same checks run under libFuzzer (`scripts/fuzz`) and over the committed corpus in `swift test`,
/// so every input the fuzzer kept, and every crash it found once, stays a regression test.
package struct FuzzTarget: Sendable {
    /// The name `scripts/fuzz` and the corpus folder use (`Fuzz/corpus/<name>/`).
    package let name: String
    /// The longest input worth generating (libFuzzer's `-max_len`).
    package let maxLength: Int
    /// What the check asserts beyond "does not crash", for the README.
    package let summary: String
    /// Runs the parser on `input`; throws when a property fails.
    package let check: @Sendable (_ input: [UInt8]) throws(FuzzFailure) -> Void

    /// A target named `name` that runs `check`.
    package init(name: String, maxLength: Int, summary: String, check: @escaping @Sendable (_ input: [UInt8]) throws(FuzzFailure) -> Void) {
        self.name = name
        self.maxLength = maxLength
        self.summary = summary
        self.check = check
    }

    /// Every fuzz target, in the order `scripts/fuzz` runs them.
    package static let all: [FuzzTarget] = [
        JSONObjectFuzzCheck.target,
        JSONActionCommandFuzzCheck.target,
        PusherCommandFuzzCheck.target,
        JWTCommandFuzzCheck.target,
        SSECursorFuzzCheck.target,
        PusherQueryFuzzCheck.target,
        RESPParserFuzzCheck.target,
    ]

    /// The target called `name`.
    package static func named(_ name: String) -> FuzzTarget? { self.all.first { $0.name == name } }
}

/// A property that did not hold: the fuzzer stops on it and the corpus replay reports it.
package struct FuzzFailure: Error, CustomStringConvertible {
    /// What did not hold, with the values involved.
    package let message: String
    package var description: String { self.message }

    /// A failure saying `message`.
    package init(_ message: String) { self.message = message }
}

/// Throws a failure saying `message()` unless `condition` holds.
package func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
    if !condition { throw FuzzFailure(message()) }
}

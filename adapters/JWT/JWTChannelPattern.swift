/// The `pattern` of the server API's `channels` method, in the glob syntax Centrifugo reads it with (gobwas/glob, no
/// separators): `*` any run of characters, `?` one character, `[abc]` / `[a-z]` / `[!…]` one of (or none of) a set,
/// `{a,b}` any of the alternatives, `\` takes the next character as it is.
///
/// A pattern is checked against every occupied channel, so its size is bounded: at most `maxLength` characters and
/// `maxAlternatives` spelled-out alternatives, and matching one name costs at most their product times its length.
struct JWTChannelPattern: Sendable {
    /// One step of a pattern with its alternatives spelled out.
    enum Step: Sendable, Equatable {
        case character(Character)
        case anyCharacter
        case anyRun
        /// One character inside (or, negated, outside) the ranges.
        case set(ranges: [ClosedRange<Character>], negated: Bool)
    }

    /// Why a pattern is refused (the API answers 107).
    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case tooLarge

        var description: String {
            switch self {
            case .malformed(let why): why
            case .tooLarge: "at most \(JWTChannelPattern.maxLength) characters and \(JWTChannelPattern.maxAlternatives) alternatives"
            }
        }
    }

    static let maxLength = 256
    static let maxAlternatives = 64

    /// Each way the pattern may be spelled out once its `{…}` are chosen.
    let alternatives: [[Step]]

    init(_ pattern: String) throws(Failure) {
        guard pattern.count <= Self.maxLength else { throw .tooLarge }
        var parser = Parser(text: Array(pattern))
        let spelled = try parser.sequence(inBraces: false)
        guard parser.position == parser.text.count else { throw .malformed("unexpected \(parser.text[parser.position])") }
        self.alternatives = spelled
    }

    /// Whether `name` matches one of the spelled-out alternatives.
    func matches(_ name: String) -> Bool {
        let characters = Array(name)
        return self.alternatives.contains { Self.matches(characters, $0) }
    }

    /// Glob matching by backtracking to the last `*` only: linear for most patterns, never worse than steps × length.
    static func matches(_ name: [Character], _ steps: [Step]) -> Bool {
        var (n, s) = (0, 0)
        var star: (step: Int, name: Int)?
        while n < name.count {
            if s < steps.count, steps[s] == .anyRun {
                star = (s, n)
                s += 1
            } else if s < steps.count, Self.step(steps[s], takes: name[n]) {
                n += 1
                s += 1
            } else if let last = star {
                star = (last.step, last.name + 1)
                (s, n) = (last.step + 1, last.name + 1)
            } else {
                return false
            }
        }
        while s < steps.count, steps[s] == .anyRun { s += 1 }
        return s == steps.count
    }

    static func step(_ step: Step, takes character: Character) -> Bool {
        switch step {
        case .character(let expected): return character == expected
        case .anyCharacter: return true
        case .anyRun: return false
        case .set(let ranges, let negated): return ranges.contains { $0.contains(character) } != negated
        }
    }

    /// Reads a pattern left to right, spelling out `{…}` as it goes.
    struct Parser {
        let text: [Character]
        var position = 0

        /// Steps up to the end, or (in braces) up to the `,` or `}` that ends this alternative.
        mutating func sequence(inBraces: Bool) throws(Failure) -> [[Step]] {
            var spelled: [[Step]] = [[]]
            while position < text.count {
                let character = text[position]
                if inBraces, character == "," || character == "}" { break }
                position += 1
                let next: [[Step]]
                switch character {
                case "*":
                    next = [[.anyRun]]
                case "?":
                    next = [[.anyCharacter]]
                case "[":
                    next = [[try self.set()]]
                case "{":
                    next = try self.braces()
                case "\\":
                    guard position < text.count else { throw .malformed("a pattern cannot end with \\") }
                    next = [[.character(text[position])]]
                    position += 1
                default:
                    next = [[.character(character)]]
                }
                guard spelled.count * next.count <= JWTChannelPattern.maxAlternatives else { throw .tooLarge }
                spelled = spelled.flatMap { head in next.map { head + $0 } }
            }
            return spelled
        }

        /// `{a,b,…}` after its `{`: every alternative, each spelled out.
        mutating func braces() throws(Failure) -> [[Step]] {
            var all: [[Step]] = []
            while true {
                all += try self.sequence(inBraces: true)
                guard all.count <= JWTChannelPattern.maxAlternatives else { throw .tooLarge }
                guard position < text.count else { throw .malformed("{ is not closed") }
                position += 1
                if text[position - 1] == "}" { return all }
            }
        }

        /// `[…]` after its `[`: ranges and single characters, negated by a leading `!`.
        mutating func set() throws(Failure) -> Step {
            var negated = false
            if position < text.count, text[position] == "!" {
                negated = true
                position += 1
            }
            var ranges: [ClosedRange<Character>] = []
            while position < text.count, text[position] != "]" {
                let low = text[position]
                if position + 2 < text.count, text[position + 1] == "-", text[position + 2] != "]" {
                    let high = text[position + 2]
                    guard low <= high else { throw .malformed("range \(low)-\(high) is backwards") }
                    ranges.append(low...high)
                    position += 3
                } else {
                    ranges.append(low...low)
                    position += 1
                }
            }
            guard position < text.count, !ranges.isEmpty else { throw .malformed("[ is not closed or is empty") }
            position += 1
            return .set(ranges: ranges, negated: negated)
        }
    }
}

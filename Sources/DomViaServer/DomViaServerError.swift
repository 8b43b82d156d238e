/// Why the helper refused to sign, or why the edge refused a publish.
public struct DomViaServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status the edge answered, or 400 for input the helper refused before sending anything.
    public var status: Int
    /// The edge's error code (`invalid_transition`, `plaintext_refused`, `rate_limited`, …), when it sent one.
    public var code: String?
    /// What went wrong.
    public var message: String

    /// Creates an error.
    public init(status: Int, code: String? = nil, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.status)\(self.code.map { " \($0)" } ?? ""): \(self.message)" }
}

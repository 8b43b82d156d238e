/// Comparison of secrets (signatures, tokens, keys) whose time does not reveal how much of a guess was right.
public enum ConstantTime {
    /// Whether `a` and `b` are equal, looking at every byte of the longer one whatever the first difference.
    public static func equal(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        self.equal(Array(a.utf8), Array(b.utf8))
    }

    /// Whether the byte strings `a` and `b` are equal, in time that depends only on their lengths.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

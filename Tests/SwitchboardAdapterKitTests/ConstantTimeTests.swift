import SwitchboardAdapterKit
import Testing

@Suite("Constant-time comparison")
struct ConstantTimeTests {
    @Test func equalOnlyWhenEveryByteAndTheLengthMatch() {
        #expect(ConstantTime.equal("abc", "abc"))
        #expect(!ConstantTime.equal("abc", "abd"))
        #expect(!ConstantTime.equal("abc", "abcd"))
        #expect(!ConstantTime.equal("abcd", "abc"))
        #expect(ConstantTime.equal("", ""))
        #expect(!ConstantTime.equal("", "a"))
        #expect(ConstantTime.equal([1, 2], [1, 2]) && !ConstantTime.equal([1, 2], [1, 3]))
    }
}

import CPOSupport
import Testing

/// What the command line prints of texts it did not write: control characters and
/// bidirectional controls visible, everything else as it is.
@Suite struct TerminalTextTests {
    @Test func controlsAreShownInCaretNotation() {
        #expect(TerminalText.escaped("a\u{1B}[2Jb") == "a^[[2Jb")
        #expect(TerminalText.escaped("\u{0}\u{7}\u{8}\r\u{7F}") == "^@^G^H^M^?")
        #expect(TerminalText.escaped("tab\tand\nnewline") == "tab\tand\nnewline")
        #expect(TerminalText.escaped("one\nline", keepingNewlines: false) == "one^Jline")
        #expect(TerminalText.escaped("C1 \u{9B}31m NEL\u{85}") == "C1 <U+009B>31m NEL<U+0085>")
    }

    @Test func bidiControlsAreShownAsCodePoints() {
        #expect(TerminalText.escaped("abc\u{202E}fed") == "abc<U+202E>fed")
        #expect(TerminalText.escaped("\u{2066}x\u{2069}\u{200F}\u{061C}") == "<U+2066>x<U+2069><U+200F><U+061C>")
    }

    @Test func everythingElseIsUnchanged() {
        let fine = "naïve café e\u{301} 日本語 😀 👨‍👩‍👧 ±Λ … \u{200B}"
        #expect(TerminalText.escaped(fine) == fine)
        #expect(TerminalText.escaped("") == "")
    }

    @Test func noEscapedTextHoldsAControl() {
        let all = String(String.UnicodeScalarView((0...0x2100).compactMap { Unicode.Scalar($0) }))
        let out = TerminalText.escaped(all, keepingNewlines: false)
        #expect(!out.unicodeScalars.contains { TerminalText.isControl($0) && $0 != "\t" })
        #expect(!out.unicodeScalars.contains { TerminalText.isBidiControl($0) })
    }
}

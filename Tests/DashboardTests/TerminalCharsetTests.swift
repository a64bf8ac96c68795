import Dashboard
import Testing

/// What a terminal shows, from its locale: the glyphs the dashboard starts with, whether only
/// ASCII may be sent, the note to the user, and the ASCII stand-ins.
@Suite struct TerminalCharsetTests {
    func charset(_ codeset: String?, _ environment: [String: String], curses: Bool = true, ascii: Bool? = nil) -> TerminalCharset {
        TerminalCharset(codeset: codeset, cursesUTF8: curses, asciiChoice: ascii, environment: environment)
    }

    @Test func theLocaleDecidesUnlessTheUserChose() {
        // LANG=C (and unset, and POSIX): ASCII only, with a note saying how to override.
        for env in [["LANG": "C", "LC_ALL": "C"], [:], ["LANG": "POSIX"]] {
            let c = charset("ANSI_X3.4-1968", env)
            #expect(!c.localeUTF8 && c.glyphs == .ascii && c.asciiOnly, "\(env)")
            #expect(c.note?.contains("is not UTF-8") == true && c.note?.contains("--no-ascii") == true, "\(env)")
        }
        #expect(charset("ANSI_X3.4-1968", [:]).note?.contains("unset (C)") == true)
        #expect(charset("ISO-8859-1", ["LANG": "de_DE.ISO-8859-1"]).glyphs == .ascii)
        // A UTF-8 locale: Unicode, nothing to say.
        let utf8 = charset("UTF-8", ["LANG": "C.UTF-8"])
        #expect(utf8.localeUTF8 && utf8.glyphs == .unicode && !utf8.asciiOnly && utf8.note == nil)
        // --ascii on a UTF-8 terminal: ASCII glyphs, but text from data may stay Unicode.
        let chosenASCII = charset("UTF-8", ["LANG": "C.UTF-8"], ascii: true)
        #expect(chosenASCII.glyphs == .ascii && !chosenASCII.asciiOnly && chosenASCII.note == nil)
        // --no-ascii under LANG=C: the user knows the terminal shows UTF-8.
        let chosenUnicode = charset("ANSI_X3.4-1968", ["LANG": "C"], ascii: false)
        #expect(chosenUnicode.glyphs == .unicode && !chosenUnicode.asciiOnly && chosenUnicode.note == nil)
        // --ascii under LANG=C: ASCII everywhere, and no note (the user chose).
        let both = charset("ANSI_X3.4-1968", ["LANG": "C"], ascii: true)
        #expect(both.asciiOnly && both.note == nil)
    }

    @Test func aLocaleThatIsNotInstalledIsJudgedByItsName() {
        // LC_ALL wins over LC_CTYPE over LANG, as in the C library; empty values are skipped.
        #expect(charset(nil, ["LANG": "en_US.UTF-8"]).localeUTF8)
        #expect(charset(nil, ["LC_CTYPE": "de_DE.utf8", "LANG": "C"]).localeUTF8)
        #expect(!charset(nil, ["LC_ALL": "xx_XX", "LANG": "en_US.UTF-8"]).localeUTF8)
        #expect(charset(nil, ["LC_ALL": "", "LANG": "en_US.UTF-8"]).localeUTF8)
        #expect(charset(nil, ["LC_ALL": "xx_XX"]).note?.contains("(xx_XX)") == true)
        #expect(TerminalCharset.localeName(["LC_ALL": "", "LC_CTYPE": "", "LANG": "fr_FR"]) == "fr_FR")
    }

    @Test func withoutAUTF8LocaleForCursesEverythingIsASCII() {
        let c = charset("UTF-8", ["LANG": "C.UTF-8"], curses: false)
        #expect(c.glyphs == .ascii && c.asciiOnly && c.note?.contains("no UTF-8 locale is installed") == true)
        let chosen = charset("ANSI_X3.4-1968", ["LANG": "C"], curses: false, ascii: false)
        #expect(chosen.asciiOnly && chosen.note?.contains("no UTF-8 locale is installed") == true)
    }

    @Test func asciiStandIns() {
        let f = TerminalCharset.asciiFallback
        #expect(Array("abc 1.5 ~|+-").map(f) == Array("abc 1.5 ~|+-"))
        #expect(Array("╭─╮│╰╯├┤┃━").map(f) == Array("+-+|++++|-"))
        #expect(Array("▁▄█▏░").map(f) == Array("#####"))
        #expect(Array("\u{2800}⣿⠁").map(f) == Array(" .."))
        #expect(Array("←→↑↓…–—·±ΛΣ∞⚠").map(f) == Array("<>^v~--.~LS~!"))
        #expect(Array("ĝéÅñ²Ａ").map(f) == Array("geAn2A"))
        #expect(Array("漢😀ж").map(f) == Array("???"))
        // Every character becomes exactly one ASCII character.
        let all = (0x80...0x2FFF).compactMap(UnicodeScalar.init).map { f(Character($0)) }
        #expect(all.allSatisfy { $0.isASCII })
    }
}

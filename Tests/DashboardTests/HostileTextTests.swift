import CPOSupport
import Foundation
import Lab
import OutcomeData
import Testing
@testable import Dashboard

/// Texts from data files and models can hold anything. Whatever they hold, every cell of a
/// frame is one character a terminal draws in one column: no control character, escape
/// sequence or bidirectional control reaches the terminal, nothing wide or invisible shifts the
/// columns, and every row is exactly as wide as the screen.
@Suite("hostile text on the screen")
struct HostileTextTests {
    /// One of each kind of trouble, and a mix.
    static let hostile: [String] = [
        "clear\u{1B}[2Jthe screen\u{1B}]0;title\u{07}, bell\u{07}, NUL\u{0}, DEL\u{7F}, CR\roverwrite, C1 CSI\u{9B}31m",
        "every C0: " + String(String.UnicodeScalarView((0..<0x20).compactMap { Unicode.Scalar($0) })) + " end",
        "bidi \u{202E}desrever\u{202C} and \u{2066}isolated\u{2069} \u{2067}rtl\u{2069} \u{2068}first\u{2069} \u{200F}rlm \u{061C}alm",
        "Zalgo e" + String(repeating: "\u{301}", count: 50) + " and a" + String(repeating: "\u{20DD}\u{0489}", count: 10) + " end",
        "wide 日本語のテキスト 한국어 中文 ｆｕｌｌｗｉｄｔｈ end",
        "emoji 😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇩🇪 ❤️ 1️⃣ ☺︎ end",
        "zero width: a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{FEFF}f\u{00AD}g\u{180E}h end",
        "lone marks \u{301}\u{20DD} jamo \u{1160}\u{11A8} private \u{E000} unassigned \u{0378} noncharacter \u{FFFF} end",
        "lines\u{2028}and\u{2029}paragraphs\u{85}NEL\u{0B}VT\u{0C}FF\ttab\nnewline end",
        "Devanagari नमस्ते Thai สวัสดี Arabic مرحبا Hebrew שלום end",
    ]

    /// Every scalar of every cell of `b`: none that a terminal acts on or draws other than one
    /// column wide, and each cell's character already displayable.
    static func expectClean(_ b: CellBuffer, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
        for y in 0..<b.height {
            let line = b.line(y)
            #expect(line.count == b.width, "row \(y) has \(line.count) cells, not \(b.width): \(comment)", sourceLocation: sourceLocation)
            for x in 0..<b.width {
                let ch = b[x, y].char
                let scalars = ch.unicodeScalars
                if scalars.contains(where: { TerminalText.isControl($0) || TerminalText.isBidiControl($0) }) {
                    Issue.record("a control character at (\(x), \(y)): \(comment)", sourceLocation: sourceLocation)
                    return
                }
                if CellBuffer.displayable(ch) != ch {
                    Issue.record("cell (\(x), \(y)) holds \(scalars.map { String($0.value, radix: 16) }), not displayable: \(comment)",
                                 sourceLocation: sourceLocation)
                    return
                }
                if scalars.count > 1 + CellBuffer.maxCombiningMarks {
                    Issue.record("cell (\(x), \(y)) holds \(scalars.count) scalars: \(comment)", sourceLocation: sourceLocation)
                    return
                }
            }
        }
    }

    @Test func eachCaseFillsEveryWidthExactly() {
        for (k, s) in Self.hostile.enumerated() {
            for width in [1, 2, 3, 7, 16, 40, 80, 200] {
                var b = CellBuffer(width: width, height: 3)
                b.put(s, x: 0, y: 0)
                b.put(s, x: width / 2, y: 1, maxWidth: max(1, width / 3))
                b.box(Rect(x: 0, y: 1, width: width, height: 2), title: s, style: Style(), titleStyle: Style(), glyphs: .unicode)
                Self.expectClean(b, "case \(k) at width \(width)")
            }
        }
    }

    @Test func replacements() {
        #expect(CellBuffer.displayable("\u{1B}") == "?")
        #expect(CellBuffer.displayable("\u{0}") == "?")
        #expect(CellBuffer.displayable("\u{7F}") == "?")
        #expect(CellBuffer.displayable("\u{9B}") == "?")
        #expect(CellBuffer.displayable("\u{85}") == " ")
        #expect(CellBuffer.displayable("\u{2028}") == " ")
        #expect(CellBuffer.displayable("\u{202E}") == "?")
        #expect(CellBuffer.displayable("\u{2066}") == "?")
        #expect(CellBuffer.displayable("\u{200B}") == "?")
        #expect(CellBuffer.displayable("\u{1160}") == "?")
        #expect(CellBuffer.displayable("👨‍👩‍👧‍👦") == "?")
        #expect(CellBuffer.displayable("🇩🇪") == "?")
        // A letter keeps up to four combining marks; what else is joined to it goes.
        let zalgo = Character("e" + String(repeating: "\u{301}", count: 50))
        #expect(CellBuffer.displayable(zalgo) == Character("e" + String(repeating: "\u{301}", count: CellBuffer.maxCombiningMarks)))
        #expect(CellBuffer.displayable(Character("c\u{200D}")) == "c")
        #expect(CellBuffer.displayable(Character("स्")) == "स्")       // virama: a nonspacing mark, kept
        #expect(CellBuffer.displayable(Character("ना")) == "न")        // a spacing vowel sign takes a column: dropped
    }

    /// Every view of a run whose rows, generations, messages, names and status hold hostile
    /// text (and one row of a megabyte), at several sizes: every row of the frame exactly as
    /// wide as the screen, every cell clean, the panels' borders where they belong.
    @Test func everyViewWithHostileTextsAtSeveralSizes() {
        var s = FrameBenchmark.snapshot(epochs: 2, stepsPerEpoch: 20, rows: 40, samples: 30)
        let megabyte = String(repeating: "long\u{1B}[31m 日本 ", count: 1 << 20 / 16)
        s.dataPreview = s.dataPreview.enumerated().map { i, row in
            var r = row
            r.text = i == 3 ? megabyte : Self.hostile[i % Self.hostile.count]
            return r
        }
        s.generations[.cpo] = RequestedSamples(prefix: "\u{1B}[2J", texts: Self.hostile.map {
            GeneratedText(text: $0, score: 1, attributes: ["a\u{1B}b"], invalidSegments: [$0], logRatioToFT: 0)
        })
        s.methods = s.methods.map { m in
            var m = m
            if var last = m.epochs.popLast() {
                last.samples = Self.hostile.map { GeneratedText(text: $0, score: 2, attributes: [], invalidSegments: [], logRatioToFT: 0) }
                m.epochs.append(last)
            }
            return m
        }
        s.messages += Self.hostile.map { "error: \($0)" }
        s.sourceLabel = "csv:/tmp/\u{1B}[2Jevil\u{202E}vsc.csv"
        s.runDirectory = "runs/\u{1B}]0;x\u{07}"
        s.attributeNames = ["ur\u{1B}gency", "日本語", "\u{202E}guilt", "e" + String(repeating: "\u{301}", count: 20)]
        s.phase = .failed("bad row: \(Self.hostile[0])")

        var screens = FrameBenchmark.screens()
        var help = screens[0].view
        help.showHelp = true
        var prompt = screens[0].view
        prompt.promptDraft = Self.hostile[2]
        var status = screens[0].view
        status.status = Self.hostile[5]
        var filtered = screens[5].view
        filtered.lists[.rows].filter = "long"
        screens += [("help", help), ("prompt", prompt), ("status", status), ("filtered rows", filtered)]
        var harmless = FrameBenchmark.snapshot(epochs: 2, stepsPerEpoch: 20, rows: 40, samples: 30)
        harmless.phase = .failed("bad row")
        for case (let name, var view) in screens {
            for glyphs in [Glyphs.unicode, .ascii] {
                view.glyphs = glyphs
                let vertical: Character = glyphs == .unicode ? "│" : "|"
                for (w, h) in [(120, 40), (80, 24), (200, 60), (81, 25)] {
                    let frame = DashboardView.render(s, view, width: w, height: h)
                    Self.expectClean(frame, "\(name) at \(w)x\(h), \(glyphs)")
                    // The right edge's borders are where a harmless run's frame has them: no
                    // text pushed or pulled them.
                    let plain = DashboardView.render(harmless, view, width: w, height: h)
                    for y in 0..<h where plain[w - 1, y].char == vertical {
                        #expect(frame[w - 1, y].char == vertical, "\(name) at \(w)x\(h), \(glyphs): row \(y) lost its right border")
                    }
                }
            }
        }
    }

    /// The rows list looks at no more of a text than it shows: a list of megabyte rows renders
    /// (the texts cut with an ellipsis), and one line of it is the first words of the text.
    @Test func megabyteRowsAreCutToTheirCells() {
        let words = Widgets.singleLine("  a  b\t\tc\n\nd   ", limit: 100)
        #expect(words == "a b c d")
        #expect(Widgets.singleLine("  a  b\t\tc\n\nd   ", limit: 3) == "a b")
        #expect(Widgets.singleLine("  a  b\t\tc\n\nd   ", limit: 4) == "a b ")
        #expect(Widgets.singleLine("", limit: 4) == "")
        let big = String(repeating: "word ", count: 1 << 18)
        for n in [0, 1, 5, 80] {
            #expect(Widgets.singleLine(big, limit: n) == String(big.split(separator: " ").joined(separator: " ").prefix(n)))
        }
        #expect(Widgets.truncate(big, width: 10, glyphs: .unicode) == "word word…")
        #expect(Widgets.truncate("short", width: 10, glyphs: .unicode) == "short")
        #expect(Widgets.truncate("exactly10!", width: 10, glyphs: .unicode) == "exactly10!")
    }
}

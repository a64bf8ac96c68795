import Testing
import Dashboard

/// Buffer primitives: golden plain text plus style checks (Sources/Dashboard/Dashboard.docc/Terminal.md, "Testing").
@Suite struct CellBufferTests {
    let border = Style(fg: .indexed(240))
    let titleStyle = Style(fg: .indexed(252), bold: true)

    @Test func boxUnicodeGolden() {
        var b = CellBuffer(width: 12, height: 3)
        b.box(Rect(x: 0, y: 0, width: 12, height: 3), title: "loss", style: border, titleStyle: titleStyle, glyphs: .unicode)
        #expect(b.plainText() == "╭─ loss ───╮\n│          │\n╰──────────╯")
        #expect(b[0, 0].style == border)
        #expect(b[11, 2].style == border)
        #expect(b[2, 0].style == border)          // the space before the title
        #expect(b[3, 0] == Cell(char: "l", style: titleStyle))
        #expect(b[6, 0] == Cell(char: "s", style: titleStyle))
        #expect(b[7, 0].style == border)          // the space after it
        #expect(b[5, 1] == .blank)                // inside untouched
    }

    @Test func boxASCIIGolden() {
        var b = CellBuffer(width: 12, height: 4)
        b.box(Rect(x: 0, y: 0, width: 12, height: 4), title: "loss", style: border, titleStyle: titleStyle, glyphs: .ascii)
        #expect(b.plainText() == "+- loss ---+\n|          |\n|          |\n+----------+")
        #expect(b.plainText().unicodeScalars.allSatisfy { $0.isASCII })
    }

    @Test func boxWithoutTitleAtAnOffsetAndClipped() {
        var b = CellBuffer(width: 7, height: 4)
        b.box(Rect(x: 1, y: 1, width: 4, height: 3), title: nil, style: border, titleStyle: titleStyle, glyphs: .unicode)
        #expect(b.plainText() == "       \n ╭──╮  \n │  │  \n ╰──╯  ")
        // Partly outside the buffer: the visible part is drawn, nothing traps.
        var c = CellBuffer(width: 4, height: 2)
        c.box(Rect(x: -2, y: 0, width: 5, height: 3), title: "x", style: border, titleStyle: titleStyle, glyphs: .ascii)
        #expect(c.plainText() == "--+ \n  | ")
    }

    @Test func boxTitleIsCutWithEllipsisOrDropped() {
        var b = CellBuffer(width: 8, height: 2)
        b.box(Rect(x: 0, y: 0, width: 8, height: 2), title: "training", style: border, titleStyle: titleStyle, glyphs: .unicode)
        #expect(b.plainText() == "╭─ tr… ╮\n╰──────╯")
        var a = CellBuffer(width: 8, height: 2)
        a.box(Rect(x: 0, y: 0, width: 8, height: 2), title: "training", style: border, titleStyle: titleStyle, glyphs: .ascii)
        #expect(a.plainText() == "+- tr~ +\n+------+")
        var tiny = CellBuffer(width: 5, height: 2)   // no room for even one title character
        tiny.box(Rect(x: 0, y: 0, width: 5, height: 2), title: "loss", style: border, titleStyle: titleStyle, glyphs: .unicode)
        #expect(tiny.plainText() == "╭───╮\n╰───╯")
    }

    @Test func boxTooSmallDrawsNothing() {
        var b = CellBuffer(width: 3, height: 3)
        b.box(Rect(x: 0, y: 0, width: 1, height: 3), title: "t", style: border, titleStyle: titleStyle, glyphs: .unicode)
        b.box(Rect(x: 0, y: 0, width: 3, height: 1), title: "t", style: border, titleStyle: titleStyle, glyphs: .unicode)
        #expect(b == CellBuffer(width: 3, height: 3))
    }

    @Test func putClipsToTheBufferAndMaxWidth() {
        var b = CellBuffer(width: 5, height: 2)
        b.put("hello", x: 3, y: 0)
        #expect(b.line(0) == "   he")
        b.put("hello", x: -2, y: 1)
        #expect(b.line(1) == "llo  ")
        var c = CellBuffer(width: 5, height: 1)
        c.put("hello", x: 1, y: 0, maxWidth: 2)
        #expect(c.plainText() == " he  ")
        c.put("zz", x: 0, y: 0, maxWidth: 0)
        c.put("zz", x: 0, y: 1)     // row out of range
        c.put("zz", x: 0, y: -1)
        #expect(c.plainText() == " he  ")
        let bold = Style(bold: true)
        c.put("X", x: 4, y: 0, style: bold)
        #expect(c[4, 0] == Cell(char: "X", style: bold))
    }

    @Test func putKeepsOneCharacterPerCell() {
        var b = CellBuffer(width: 8, height: 1)
        b.put("a\tb\nc日é", x: 0, y: 0)
        // Tab and newline become spaces, the wide CJK character '?', é (one column) stays.
        #expect(b.plainText() == "a b c?é ")
        #expect(CellBuffer.displayable("e\u{301}") == "e\u{301}")   // e + combining acute: one column
        #expect(CellBuffer.displayable("\u{301}") == "?")           // lone combining mark
        #expect(CellBuffer.displayable("😀") == "?")
        #expect(CellBuffer.displayable("⣿") == "⣿")
        #expect(CellBuffer.displayable("\r\n") == " ")
    }

    @Test func fillSetsCellsInsideTheRectOnly() {
        var b = CellBuffer(width: 4, height: 3)
        let s = Style(fg: .indexed(1))
        b.fill(Rect(x: 1, y: 1, width: 2, height: 2), char: "#", style: s)
        #expect(b.plainText() == "    \n ## \n ## ")
        #expect(b[1, 1].style == s)
        #expect(b[0, 1] == .blank)
        b.fill(Rect(x: 3, y: -1, width: 5, height: 2), char: "%")   // clipped
        #expect(b.plainText() == "   %\n ## \n ## ")
    }

    @Test func subscriptOutOfRange() {
        var b = CellBuffer(width: 2, height: 2)
        b[5, 0] = Cell(char: "x")
        b[-1, 1] = Cell(char: "x")
        b[0, 2] = Cell(char: "x")
        #expect(b == CellBuffer(width: 2, height: 2))
        #expect(b[9, 9] == .blank)
        b[1, 1] = Cell(char: "x")
        #expect(b[1, 1].char == "x")
        #expect(b != CellBuffer(width: 2, height: 2))
    }

    @Test func plainTextKeepsTrailingSpacesAndHasFixedShape() {
        var b = CellBuffer(width: 3, height: 2)
        b.put("a", x: 0, y: 0)
        #expect(b.plainText() == "a  \n   ")
        let lines = b.plainText().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.count == 3 })
        #expect(CellBuffer(width: 0, height: 0).plainText() == "")
    }

    @Test func diffReturnsOnlyChangedCells() {
        var old = CellBuffer(width: 4, height: 3)
        old.put("abcd", x: 0, y: 0)
        var new = old
        #expect(new.diff(from: old).isEmpty)
        new.put("X", x: 2, y: 0)
        new[3, 2] = Cell(char: " ", style: Style(reverse: true))   // style-only change
        new[1, 1] = .blank                                          // rewritten, unchanged
        let d = new.diff(from: old)
        #expect(d.count == 2)
        #expect(d[0].x == 2 && d[0].y == 0 && d[0].cell.char == "X")
        #expect(d[1].x == 3 && d[1].y == 2 && d[1].cell.style.reverse)
    }

    @Test func diffAfterResizeReturnsEveryCell() {
        let old = CellBuffer(width: 4, height: 3)
        let new = CellBuffer(width: 5, height: 3)
        let d = new.diff(from: old)
        #expect(d.count == 15)
        #expect(d.last.map { $0.x == 4 && $0.y == 2 } == true)
        #expect(CellBuffer(width: 2, height: 2).diff(from: CellBuffer(width: 0, height: 0)).count == 4)
    }

    @Test func rectSplitsAddUpAndFollowWeights() {
        let r = Rect(x: 2, y: 1, width: 10, height: 10)
        let rows = r.splitRows([2, 1])
        #expect(rows == [Rect(x: 2, y: 1, width: 10, height: 7), Rect(x: 2, y: 8, width: 10, height: 3)])
        let cols = r.splitColumns([1, 1, 1])
        #expect(cols.map(\.width) == [4, 3, 3])
        #expect(cols.map(\.x) == [2, 6, 9])
        for height in 0...13 {
            let parts = Rect(x: 0, y: 0, width: 1, height: height).splitRows([3, 1, 2])
            #expect(parts.map(\.height).reduce(0, +) == height)
            #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.maxY == $1.y })
        }
        #expect(r.splitRows([0, 1]).map(\.height) == [0, 10])
        #expect(r.splitRows([0, 0]).map(\.height) == [5, 5])
        #expect(r.splitRows([]).isEmpty)
    }

    @Test func rectHelpers() {
        let r = Rect(x: 1, y: 1, width: 6, height: 4)
        #expect(r.inset(by: 1) == Rect(x: 2, y: 2, width: 4, height: 2))
        #expect(r.inset(by: 3).isEmpty)
        #expect(r.row(1) == Rect(x: 1, y: 2, width: 6, height: 1))
        #expect(r.row(4).isEmpty)
        let (top, rest) = r.cutTop(1)
        #expect(top == Rect(x: 1, y: 1, width: 6, height: 1) && rest == Rect(x: 1, y: 2, width: 6, height: 3))
        let (left, right) = r.cutLeft(10)
        #expect(left == r && right.width == 0 && right.x == r.maxX)
        #expect(r.centered(width: 2, height: 2) == Rect(x: 3, y: 2, width: 2, height: 2))
        #expect(r.intersection(Rect(x: 5, y: 0, width: 10, height: 2)) == Rect(x: 5, y: 1, width: 2, height: 1))
        #expect(Rect(x: 0, y: 0, width: -3, height: 2).width == 0)
    }
}

import Testing
import Dashboard

/// Widgets: golden plain text at small sizes, plus the honesty rules (labels, NaN, no data).
@Suite struct WidgetTests {
    let theme = Theme.dark
    let blue = Color.indexed(39)

    func chart(_ series: [(name: String, values: [Double], color: Color)], _ w: Int, _ h: Int,
               glyphs: Glyphs = .unicode, xLabel: String? = nil, xStart: Int = 0) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        Widgets.lineChart(series, in: Rect(width: w, height: h), buffer: &b, theme: theme, glyphs: glyphs,
                          xLabel: xLabel, xStart: xStart)
        return b
    }

    static func hasBraille(_ s: String) -> Bool {
        s.unicodeScalars.contains { (0x2800...0x28FF).contains($0.value) }
    }

    // MARK: Line chart

    @Test func lineChartGolden() {
        let b = chart([("loss", [9, 7, 5, 4, 3, 2.5, 2, 1.5, 1.2, 1], blue)], 24, 6, xLabel: "step")
        #expect(b.plainText() == """
            ━ loss                  
            9┤⠑⠤⡀                   
            5┤  ⠈⠒⠤⡀                
             │     ⠈⠑⠒⠤⣀⣀           
            1┤           ⠉⠉⠑⠒⠢⠤⠤⣀⣀⣀⣀
              0        step        9
            """)
        #expect(b[2, 0].style.fg == blue)               // legend name in the series colour
        #expect(b[2, 1] == Cell(char: "⠑", style: Style(fg: blue)))
        #expect(b[0, 1].style == theme.dim)             // y label
        #expect(b[1, 3].style == theme.border)          // axis
        #expect(b[2, 5].style == theme.dim)             // x label
    }

    @Test func lineChartASCIIGoldenHasNoBraille() {
        let b = chart([("a", [0, 1, 2, 3], blue), ("b", [3, 2, 1, 0], .indexed(203))], 24, 6, glyphs: .ascii, xLabel: "step")
        #expect(b.plainText() == """
            * a  + b                
              3|+++             ****
            1.5|   +++++++******    
               |   *******++++++    
              0|***             ++++
                0       step       3
            """)
        #expect(!Self.hasBraille(b.plainText()))
        #expect(b.plainText().unicodeScalars.allSatisfy { $0.isASCII })
        #expect(b[4, 4].style.fg == blue && b[23, 4].style.fg == .indexed(203))
        // The same data with unicode glyphs is drawn in braille.
        #expect(Self.hasBraille(chart([("a", [0, 1, 2, 3], blue)], 24, 6).plainText()))
    }

    @Test func denseDataFillsWholeBrailleCells() {
        let zigzag = (0..<200).map { Double($0 % 2) }
        let b = chart([("z", zigzag, blue)], 4, 1)
        #expect(b.plainText() == "⣿⣿⣿⣿")
    }

    @Test func yLabelsShowMinMidMax() {
        let b = chart([("v", [-58.3, 1200], blue)], 20, 6)
        #expect(b.line(1).hasPrefix(" 1.2k┤"))
        #expect(b.line(2).hasPrefix("  571┤"))          // (1200 - 58.3) / 2 = 570.85
        #expect(b.line(3).hasPrefix("     │"))
        #expect(b.line(4).hasPrefix("-58.3┤"))
        #expect(b.line(5) == "      0            1")
    }

    @Test func closeValuesGetLabelsThatDiffer() {
        let b = chart([("v", [2.3451, 2.3458], blue)], 20, 6)
        #expect(b.line(1).hasPrefix("2.3458┤"))
        #expect(b.line(4).hasPrefix("2.3451┤"))
        let labels = (1...4).map { String(b.line($0).prefix(6)) }.filter { $0.contains(".") }
        #expect(labels.count == 3 && Set(labels).count == 3)
        #expect(Widgets.axisLabels([1200, -58.3, 570.85]) == ["1.2k", "-58.3", "571"])
    }

    @Test func nanAndInfinityAreSkippedNotJoined() {
        let joined = chart([("v", [1, 2, 3], blue)], 10, 1)
        #expect(joined.line(0).hasPrefix("3┤"))
        #expect(!joined.line(0).dropFirst(2).contains(" "))     // joined: every column has dots
        for gap in [Double.nan, .infinity, -.infinity] {
            let b = chart([("v", [1, gap, 3], blue)], 10, 1)
            // Only the two finite ends are drawn; the y range ignores the gap.
            #expect(b.plainText() == "3┤⡀      ⠈")
        }
    }

    @Test func constantSeriesIsDrawnAtMidHeight() {
        let b = chart([("c", [5, 5, 5, 5], blue)], 20, 6)
        #expect(b.line(1) == "7.5┤                ")
        #expect(b.line(2) == "  5┤" + String(repeating: "⣀", count: 16))
        #expect(b.line(4) == "2.5┤                ")
    }

    @Test func emptyDataSaysSo() {
        for series: [(name: String, values: [Double], color: Color)] in [[], [("x", [], blue)], [("x", [.nan, .nan], blue)]] {
            let b = chart(series, 20, 5)
            #expect(b.line(2) == "    no data yet     ")
            #expect(b[4, 2].style == theme.dim)
            #expect(!Self.hasBraille(b.plainText()))
        }
    }

    @Test func xLabelsUseXStart() {
        let b = chart([("v", Array(repeating: 1, count: 10).enumerated().map { Double($0.offset) }, blue)], 20, 5, xStart: 1)
        #expect(b.line(4) == "    1             10")
    }

    // MARK: Histogram

    func histogram(_ counts: [Int], edges: [Double]? = nil, _ w: Int, _ h: Int, glyphs: Glyphs = .unicode) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        Widgets.histogram(counts, edges: edges, in: Rect(width: w, height: h), buffer: &b, style: Style(fg: blue),
                          theme: theme, glyphs: glyphs)
        return b
    }

    @Test func histogramUsesEighthBlocks() {
        #expect(histogram(Array(0...8), 9, 1).plainText() == " ▁▂▃▄▅▆▇█")
        #expect(histogram(Array(0...8), 9, 2).plainText() == "     ▂▄▆█\n ▂▄▆█████")
        #expect(histogram([1, 2], 2, 1)[1, 0].style == Style(fg: blue))
    }

    @Test func histogramGoldenWithEdges() {
        let b = histogram([1, 2, 4], edges: [0, 0.5, 1.0, 1.5], 15, 3)
        #expect(b.plainText() == "          █████\n▄▄▄▄▄██████████\n0         1 1.5")
        #expect(b[0, 2].style == theme.dim)
    }

    @Test func histogramASCIIAndSmallCounts() {
        #expect(histogram([1, 2, 8], 3, 2, glyphs: .ascii).plainText() == "  #\n.##")
        #expect(histogram([1, 1000], 2, 1).plainText() == "▁█")           // non-zero never vanishes
        #expect(histogram([1, 1, 0, 0, 2, 2], 3, 1).plainText() == "▄ █")   // bins summed per column
        #expect(histogram([0, 0], 2, 1).plainText() == "  ")
        #expect(histogram([], 13, 1).plainText() == " no data yet ")
    }

    // MARK: Table

    func table(_ w: Int, _ h: Int, selected: Int? = nil, glyphs: Glyphs = .unicode, rows: [[String]]? = nil,
               cellStyle: ((Int, Int) -> Style?)? = nil) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        Widgets.table(header: ["method", "loss"], rows: rows ?? [["DR-CPO", "0.5"], ["filtered-SFT", "12.25"]],
                      alignments: [.left, .right], in: Rect(width: w, height: h), buffer: &b, theme: theme,
                      selectedRow: selected, glyphs: glyphs, cellStyle: cellStyle)
        return b
    }

    @Test func tableTruncatesAndAligns() {
        #expect(table(14, 3).plainText() == "method    loss\nDR-CPO     0.5\nfiltere… 12.25")
        #expect(table(14, 3, glyphs: .ascii).plainText() == "method    loss\nDR-CPO     0.5\nfiltere~ 12.25")
        let wide = table(22, 3)
        #expect(wide.plainText() == "method         loss   \nDR-CPO          0.5   \nfiltered-SFT  12.25   ")
    }

    @Test func tableHighlightsTheSelectedRowAcrossTheWidth() {
        let b = table(22, 3, selected: 1)
        #expect(b[0, 0].style == theme.header)
        #expect(b[20, 0].style == theme.header)
        for x in 0..<22 {
            #expect(b[x, 2].style.reverse)
            #expect(!b[x, 1].style.reverse)
        }
        #expect(b[0, 2].style.fg == theme.text.fg)     // the text keeps its colour, reversed
        #expect(b[0, 1].style == theme.text)
    }

    @Test func tableScrollsTheSelectedRowIntoView() {
        let rows = (0..<10).map { ["r\($0)", "\($0)"] }
        let b = table(8, 3, selected: 7, rows: rows)
        #expect(b.plainText() == "me… loss\nr6     6\nr7     7")
        let c = table(12, 3, selected: nil, rows: rows)
        #expect(c.line(1).hasPrefix("r0") && c.line(2).hasPrefix("r1"))
        let past = table(8, 3, selected: 25, rows: rows)      // a stale selection: the last rows, none lit
        #expect(past.plainText() == "me… loss\nr8     8\nr9     9")
        #expect(!past[0, 2].style.reverse)
        #expect(table(8, 3, selected: 1, rows: []).plainText() == "me… loss\n        \n        ")
    }

    @Test func tableCellStyles() {
        let red = Style(fg: .indexed(203))
        let b = table(22, 3, cellStyle: { row, col in row == 1 && col == 1 ? red : nil })
        #expect(b[17, 2].style == red)     // "12.25" in row 1
        #expect(b[17, 1].style == theme.text)
    }

    // MARK: Text list

    @Test func textListWrapsWordsAndScrolls() {
        let s1 = Style(fg: .indexed(1)), s2 = Style(fg: .indexed(2))
        var b = CellBuffer(width: 10, height: 3)
        let n = Widgets.textList([("the quick brown fox", s1), ("jumps", s2)], in: Rect(width: 10, height: 3), buffer: &b, scroll: 0)
        #expect(n == 3)
        #expect(b.plainText() == "the quick \nbrown fox \njumps     ")
        #expect(b[0, 1].style == s1 && b[0, 2].style == s2)
        for scroll in [1, 5] {    // clamped: the last line reaches the bottom, no further
            var c = CellBuffer(width: 10, height: 2)
            Widgets.textList([("the quick brown fox", s1), ("jumps", s2)], in: Rect(width: 10, height: 2), buffer: &c, scroll: scroll)
            #expect(c.plainText() == "brown fox \njumps     ")
        }
    }

    @Test func wrapRules() {
        #expect(Widgets.wrap("abcdefghijkl", width: 5) == ["abcde", "fghij", "kl"])
        #expect(Widgets.wrap("aaa  bbb ccc", width: 7) == ["aaa bbb", "ccc"])
        #expect(Widgets.wrap("aaa bbb ccc", width: 7, hangingIndent: 2) == ["aaa bbb", "  ccc"])
        #expect(Widgets.wrap("xx abcdefghij", width: 5, hangingIndent: 2) == ["xx", "  abc", "  def", "  ghi", "  j"])
        #expect(Widgets.wrap("a\n\nb", width: 5) == ["a", "", "b"])
        #expect(Widgets.wrap("abc", width: 0).isEmpty)
    }

    // MARK: Bar

    func bar(_ v: Double, _ lo: Double?, _ hi: Double?, _ w: Int, range: ClosedRange<Double> = 0...1, glyphs: Glyphs = .unicode) -> String {
        var b = CellBuffer(width: w, height: 1)
        Widgets.bar(value: v, lower: lo, upper: hi, range: range, in: Rect(width: w, height: 1), buffer: &b,
                    style: Style(), glyphs: glyphs)
        return b.plainText()
    }

    @Test func barWithWhisker() {
        #expect(bar(0.5, 0.3, 0.8, 12) == "███├██───┤  ")
        #expect(bar(0.5, 0.3, 0.8, 12, glyphs: .ascii) == "===|==---|  ")
        #expect(bar(0.55, nil, nil, 10) == "█████▌    ")
        #expect(bar(0.5, 0.5, 0.52, 10) == "█████│    ")       // both ends in one cell
        #expect(bar(0.2, 0.6, 0.3, 10) == "██ ├──┤   ")          // bounds given in either order
        #expect(bar(2, nil, nil, 4) == "████")                // clamped to the range
        #expect(bar(.nan, 0.1, 0.2, 4) == "    ")
        #expect(bar(0.5, .nan, 0.9, 4) == "██  ")
        #expect(bar(-1, -1.5, -0.5, 8, range: -2...0) == "██├█──┤ ")   // lower end inside the bar: a notch
    }

    // MARK: Helpers

    @Test func formatCompactExamples() {
        let cases: [(Double, String)] = [
            (0, "0"), (1234, "1.2k"), (0.034, "0.034"), (-58.3, "-58.3"), (123.4, "123"), (999.7, "1k"),
            (12345, "12.3k"), (123_456, "123k"), (999_999, "1M"), (1.5e6, "1.5M"), (2e15, "2e15"), (1e18, "1e18"),
            (1.25, "1.25"), (9.999, "10"), (99.96, "100"), (0.1234, "0.123"), (0.0012345, "0.00123"),
            (3.4e-5, "3.4e-5"), (-0.0001, "-1e-4"), (Double.leastNonzeroMagnitude, "4.9e-324"), (-0.0, "0"),
            (.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf"),
        ]
        for (x, s) in cases { #expect(Widgets.formatCompact(x) == s, "\(x)") }
    }

    @Test func truncateAndMessage() {
        #expect(Widgets.truncate("abcdef", width: 4, glyphs: .unicode) == "abc…")
        #expect(Widgets.truncate("abcdef", width: 4, glyphs: .ascii) == "abc~")
        #expect(Widgets.truncate("abcd", width: 4, glyphs: .unicode) == "abcd")
        #expect(Widgets.truncate("abcd", width: 1, glyphs: .unicode) == "…")
        #expect(Widgets.truncate("abcd", width: 0, glyphs: .unicode) == "")
    }
}

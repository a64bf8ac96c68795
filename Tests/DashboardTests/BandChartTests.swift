import Testing
import Dashboard

/// The band chart (learning curves): where means, bands, the cursor and labels land, in
/// closed form, mostly in ASCII (one dot per cell) so positions read directly.
@Suite struct BandChartTests {
    let theme = Theme.dark
    let blue = Color.indexed(39), red = Color.indexed(203)
    typealias P = Widgets.BandPoint

    func chart(_ series: [Widgets.BandSeries], _ w: Int, _ h: Int, glyphs: Glyphs = .ascii, highlighted: Set<Int> = [],
               cursor: Int? = nil, legend: Bool = true) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        Widgets.bandChart(series, in: Rect(width: w, height: h), buffer: &b, theme: theme, glyphs: glyphs,
                          highlighted: highlighted, cursor: cursor, legend: legend)
        return b
    }

    func series(_ name: String, _ points: [P], _ color: Color? = nil) -> Widgets.BandSeries {
        Widgets.BandSeries(name: name, points: points, color: color ?? blue)
    }

    /// Rows: legend, 5 plot rows, x labels. Labels "8", "4", "0" and the axis take 2 columns:
    /// the plot is columns 2-13. From (0, 0) to (4, 8) the line runs from the bottom-left
    /// cell to the top-right one; (2, 4) lands on column round(2 x 11 / 4) = 6, the middle
    /// row; epoch e is labelled under column round(e x 11 / 4): 0, 3, 6, 8, 11.
    @Test func theExtremesLandInTheCorners() {
        let b = chart([series("v", [P(x: 0, mean: 0), P(x: 2, mean: 4), P(x: 4, mean: 8)])], 14, 7)
        #expect(b.plainText() == """
            * v           
            8|          **
             |       ***  
            4|     **     
             |  ***       
            0|**          
              0  1  2 3  4
            """)
        #expect(b[2 + 6, 3].char == "*")                 // (2, 4): column 6, the middle row
        #expect(b[2, 5] == Cell(char: "*", style: Style(fg: blue)))     // (0, 0): bottom-left
        #expect(b[13, 1] == Cell(char: "*", style: Style(fg: blue)))    // (4, 8): top-right
        #expect(b[0, 1].style == theme.dim && b[1, 3].style == theme.border && b[2, 6].style == theme.dim)
        // Braille: the same corners hold the first and last dots (bottom-left dot of the first
        // cell, top-right dot of the last).
        let braille = chart([series("v", [P(x: 0, mean: 0), P(x: 4, mean: 8)])], 14, 7, glyphs: .unicode)
        #expect(braille[2, 5].char.unicodeScalars.first!.value & 0xFF & 0x40 != 0)
        #expect(braille[13, 1].char.unicodeScalars.first!.value & 0xFF & 0x08 != 0)
    }

    /// A constant mean 5 in the band [4, 6]: the range is the band, so the band fills every
    /// plot cell and the mean runs along the middle row (dot row round(0.5 x 4) = 2).
    @Test func theBandFillsBetweenItsEndsAndTheLineIsDrawnOverIt() {
        let b = chart([series("v", (0...3).map { P(x: $0, mean: 5, lower: 4, upper: 6) })], 10, 7)
        #expect(b.plainText() == """
            * v       
            6|::::::::
             |::::::::
            5|********
             |::::::::
            4|::::::::
              0 1  2 3
            """)
        // The band is dim in the series' colour; the line is not.
        #expect(b[2, 1].style == Style(fg: blue, dim: true) && b[2, 3].style == Style(fg: blue))
        #expect(chart([series("v", (0...3).map { P(x: $0, mean: 5, lower: 4, upper: 6) })], 10, 7, glyphs: .unicode)[2, 1].char == "░")
    }

    /// A band widening from [0, 0] at x 0 to [-4, 4] at x 4 around 0, over 8 columns: column c
    /// is at x = 4c/7 with the band [-x, x], whose top is dot row round((x + 4) / 2) of 0-4:
    /// the middle row up to column 1, one row more each side from column 2 (x 1.14), two from
    /// column 6 (x 3.43). Labels every 2nd epoch: 1 and 2 would touch (columns 2 and 4).
    @Test func theBandIsInterpolatedBetweenPoints() {
        let b = chart([series("v", [P(x: 0, mean: 0, lower: 0, upper: 0), P(x: 4, mean: 0, lower: -4, upper: 4)])], 11, 7)
        #expect(b.plainText() == """
            * v        
             4|      ::
              |  ::::::
             0|********
              |  ::::::
            -4|      ::
               0   2  4
            """)
    }

    @Test func nanMeansAreSkippedAndBreakTheLine() {
        let b = chart([series("v", [P(x: 0, mean: 0), P(x: 1, mean: .nan), P(x: 2, mean: 2)])], 8, 3, legend: false)
        // Only the ends; the range is 0...2 (the NaN is left out), no line between them.
        #expect(b.plainText() == """
            2|     *
            0|*     
              0  1 2
            """)
        #expect(chart([series("v", [P(x: 0, mean: .nan)])], 20, 5).line(2) == "    no data yet     ")
        #expect(chart([], 20, 5).line(2) == "    no data yet     ")
    }

    /// Two lines crossing: the highlighted one is drawn last (it owns the crossing cell) and
    /// bold, its legend entry too.
    @Test func theHighlightedSeriesIsDrawnLastAndBold() {
        let up = series("up", [P(x: 0, mean: 0), P(x: 2, mean: 2)], blue), down = series("down", [P(x: 0, mean: 2), P(x: 2, mean: 0)], red)
        let plain = chart([up, down], 9, 5)
        let crossing = (x: 2 + 3, y: 2)
        #expect(plain[crossing.x, crossing.y].char == "+" && plain[crossing.x, crossing.y].style == Style(fg: red))
        let b = chart([up, down], 9, 5, highlighted: [0])
        #expect(b[crossing.x, crossing.y] == Cell(char: "*", style: Style(fg: blue, bold: true)))
        #expect(b[2, 0].style == Style(fg: blue, bold: true) && b[7, 0].style == Style(fg: red))
    }

    /// The cursor at x 2 of 0...4 over 22 columns lands on column round(2 x 21 / 4) = 11,
    /// behind the lines; the legend row reads each series' mean there out (c has none at 2).
    @Test func theCursorIsAColumnAndReadsOutTheValues() {
        let a = series("a", [P(x: 0, mean: 0), P(x: 2, mean: 0), P(x: 4, mean: 0)], blue)
        let c = series("c", [P(x: 0, mean: 4), P(x: 4, mean: 4)], red)
        let b = chart([a, c], 24, 7, cursor: 2)
        #expect(b.plainText() == """
            epoch 2: * a 0  + c –   
            4|++++++++++++++++++++++
             |           |          
            2|           |          
             |           |          
            0|**********************
              0    1     2    3    4
            """)
        #expect(b[13, 3] == Cell(char: "|", style: theme.accent) && b[13, 1].char == "+" && b[13, 5].char == "*")
        #expect(b[0, 0].style == theme.text && b[9, 0].style == Style(fg: blue) && b[16, 0].style == Style(fg: red))
        // Outside the chart's range: no marker and the plain legend.
        let outside = chart([a, c], 24, 7, cursor: 9)
        #expect(outside.line(0).hasPrefix("* a  + c") && (2...4).allSatisfy { outside[13, $0].char == " " })
        // Braille: 44 dot columns, round(2 x 43 / 4) = 22, in cell 11.
        #expect(chart([a, c], 24, 7, glyphs: .unicode, cursor: 2)[13, 3].char == "│")
    }

    /// Epoch labels under their columns, thinned to every 2nd, 5th, 10th... when they would
    /// touch; the last epoch always shows.
    @Test func epochLabelsFitTheWidth() {
        func labels(_ last: Int, width: Int) -> String {
            chart([series("v", (0...last).map { P(x: $0, mean: Double($0)) })], width, 4, legend: false).line(3)
        }
        // Columns round(e x 9 / 4) of 10: 0, 2, 5, 7, 9.
        #expect(labels(4, width: 12) == "  0 1  2 3 4")
        // One column per epoch: every 2nd would touch at 10 and 12; every 5th fits, 30 ends at the edge.
        #expect(labels(30, width: 34) == "   0    5    10   15   20   25  30")
        #expect(labels(12, width: 12).split(separator: " ") == ["0", "5", "12"])
        // A single epoch: its label at the left, its point in the first column.
        let one = chart([series("v", [P(x: 0, mean: 1, lower: 0.5, upper: 1.5)])], 10, 5)
        #expect(one.line(4).hasPrefix("    0") && one[4, 2].char == "*")
    }
}

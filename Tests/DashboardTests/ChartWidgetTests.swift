import Dashboard
import Foundation
import Testing

/// The smoothed loss line, and what the line chart and the distribution chart draw beyond
/// plain lines: faint raw points under a smoothed line, a window of x, a cursor, log axes, bands.
@Suite struct ChartWidgetTests {
    let theme = Theme.dark
    let blue = Color.indexed(39)

    // MARK: EMA

    /// The debiased EMA against its closed form s_t = Σ_k α^(t−k) y_k / Σ_k α^(t−k) (the
    /// weights of the recursion, normalized: (1 − α) Σ_{j<t} α^j = 1 − α^t).
    @Test func emaMatchesItsClosedForm() {
        let y: [Double] = [3, -1, 4, 1, -5, 9, 2, 6]
        for alpha in [0.0, 0.3, 0.5, 0.9, 0.99] {
            let s = EMA.smooth(y, weight: alpha)
            for t in y.indices {
                let w = (0...t).map { Foundation.pow(alpha, Double(t - $0)) }
                let closed = zip(w, y[0...t]).map { $0 * $1 }.reduce(0, +) / w.reduce(0, +)
                #expect(abs(s[t] - closed) < 1e-12, "α \(alpha), t \(t): \(s[t]) vs \(closed)")
            }
        }
        // By hand: α = 0.5 over 1, 2, 3 gives 1, 5/3, 17/7.
        let h = EMA.smooth([1, 2, 3], weight: 0.5)
        #expect(h[0] == 1 && abs(h[1] - 5.0 / 3) < 1e-15 && abs(h[2] - 17.0 / 7) < 1e-15)
        // A constant is its own EMA (the bias correction), and α = 0 leaves the values.
        #expect(EMA.smooth([7, 7, 7, 7], weight: 0.9).allSatisfy { abs($0 - 7) < 1e-12 })
        #expect(EMA.smooth(y, weight: 0) == y)
        // A non-finite value is NaN in the output and left out of the average.
        let gap = EMA.smooth([1, .nan, 3, .infinity], weight: 0.5)
        #expect(gap[0] == 1 && gap[1].isNaN && abs(gap[2] - EMA.smooth([1, 3], weight: 0.5)[1]) < 1e-15 && gap[3].isNaN)
        #expect(EMA.smooth([], weight: 0.5).isEmpty)
    }

    /// The weight rule: the average spans about 1/20 of the steps; 0 up to 20, at most 0.99.
    @Test func emaWeightFollowsTheStepCount() {
        #expect(EMA.weight(steps: 0) == 0 && EMA.weight(steps: 20) == 0)
        #expect(EMA.weight(steps: 40) == 0.5 && EMA.weight(steps: 200) == 0.9 && EMA.weight(steps: 1000) == 0.98)
        #expect(EMA.weight(steps: 30) == 0.33 && EMA.weight(steps: 100_000) == 0.99)
    }

    // MARK: Line chart options

    func chart(_ series: [Widgets.ChartSeries], _ w: Int, _ h: Int, glyphs: Glyphs = .unicode,
               _ options: Widgets.ChartOptions = .init()) -> (CellBuffer, Widgets.ChartLayout) {
        var b = CellBuffer(width: w, height: h)
        let layout = Widgets.lineChart(series, in: Rect(width: w, height: h), buffer: &b, theme: theme, glyphs: glyphs, options: options)
        return (b, layout)
    }

    /// Raw points faint under their smoothed line: a cell with a smoothed dot shows only the
    /// smoothed dots, in the plain colour; the others show the raw dots dim. The legend names
    /// the smoothed line once and the note follows it.
    @Test func faintRawPointsUnderASmoothedLine() {
        let raw: [Double] = [0, 8, 0, 8, 0, 8, 0, 8, 0, 8]
        let smooth = [Double](repeating: 4, count: 10)
        let (b, layout) = chart([.init(name: "CPO", values: raw, color: blue, faint: true), .init(name: "CPO", values: smooth, color: blue)],
                                24, 7, .init(xLabel: "step", xStart: 1, legendNote: "EMA 0.9 over raw"))
        #expect(b.plainText() == """
            ━ CPO  EMA 0.9 over raw 
            8┤  ⡜⡄  ⢀⢧   ⢠⢣   ⡸⡄   ⡜
             │ ⢠⠃⢣  ⢸⠘⡄  ⡜⠘⡄  ⡇⢣  ⢠⠃
            4┤⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒⠒
             │⢠⠃  ⢣⢸  ⠘⡄⡜  ⠘⡄⡇  ⢣⢠⠃ 
            0┤⡜   ⠘⡎   ⢣⠃   ⢳⠁  ⠘⡜  
              1       step        10
            """)
        #expect(layout.noteShown && layout.plot == Rect(x: 2, y: 1, width: 22, height: 5))
        // The smoothed line, plain: the raw dots that cross its row are not merged into it.
        #expect((2..<24).allSatisfy { b[$0, 3] == Cell(char: "⠒", style: Style(fg: blue)) })
        #expect(b[4, 1] == Cell(char: "⡜", style: Style(fg: blue, dim: true)))   // raw points, dim
        #expect(b[7, 0].style == theme.dim)                                      // the note
        // ASCII: the raw points are dots, the smoothed line the series' mark.
        let (a, _) = chart([.init(name: "CPO", values: raw, color: blue, faint: true), .init(name: "CPO", values: smooth, color: blue)],
                           24, 7, glyphs: .ascii, .init(xStart: 1))
        #expect(a.plainText() == """
            * CPO                   
            8|  .    .    .   .    .
             |  ..   ..  . .  ..   .
            4|**********************
             | .  . .  ..   ..  . . 
            0|.    .   .    .    .  
              1                   10
            """)
        #expect(a.plainText().unicodeScalars.allSatisfy { $0.isASCII })
        // A note that does not fit whole is left out, and the layout says so.
        let (_, cut) = chart([.init(name: "CPO", values: smooth, color: blue)], 12, 7, .init(legendNote: "EMA 0.9 over raw"))
        #expect(!cut.noteShown)
    }

    /// A window of x: only its points, the y range theirs, its ends as the x labels; a
    /// cursor column where no dot is.
    @Test func aWindowAndACursor() {
        let v = (1...100).map { Double($0) }
        let (b, _) = chart([.init(name: "v", values: v, color: blue)], 24, 6,
                           .init(xLabel: "step", xStart: 1, xWindow: 41...60, cursorX: 50))
        #expect(b.plainText() == """
            ━ v                     
              60┤         │    ⣀⠤⠤⠒⠉
            50.5┤         ⢀⠤⠤⠒⠉     
                │    ⢀⡠⠔⠒⠊⠁         
              41┤⡠⠔⠒⠊⠁    │         
                 41     step      60
            """)
        #expect(b[14, 1] == Cell(char: "│", style: theme.accent))
        // The same cursor outside the window draws nothing.
        let (off, _) = chart([.init(name: "v", values: v, color: blue)], 24, 6, .init(xStart: 1, xWindow: 1...20, cursorX: 50))
        let (plain, _) = chart([.init(name: "v", values: v, color: blue)], 24, 6, .init(xStart: 1, xWindow: 1...20))
        #expect(off.plainText() == plain.plainText())
    }

    /// Log axes: log10 for positive values, labels in the data's units; the symmetric log for
    /// negative ones.
    @Test func logAxesLabelTheValues() {
        let (b, _) = chart([.init(name: "v", values: [1000, 100, 10, 1], color: blue)], 20, 6, .init(yScale: .log))
        #expect(b.plainText() == """
            ━ v                 
              1k┤⠑⠢⢄⡀           
            31.6┤   ⠈⠑⠢⢄⡀       
                │       ⠈⠑⠢⣀    
               1┤           ⠉⠒⠤⣀
                 0             3
            """)
        // (The middle row is 10^1.5 ≈ 31.6 on a log axis, 500.5 on a linear one.)
        let (neg, _) = chart([.init(name: "v", values: [-99, -9, 0, 9, 99], color: blue)], 20, 6, .init(yScale: .symlog))
        #expect(neg.plainText() == """
            ━ v                 
             99┤            ⣀⠤⠒⠉
              0┤       ⢀⣀⠤⠒⠉    
               │   ⢀⡠⠔⠊⠁        
            -99┤⡠⠔⠊⠁            
                0              4
            """)
        for (axis, y) in [(Widgets.AxisScale.symlog, -58.3), (.symlog, 0.25), (.log, 0.02), (.linear, -3)] {
            #expect(abs(axis.inverse(axis.forward(y)) - y) < 1e-12)
        }
        #expect(Widgets.AxisScale.log.forward(-1).isNaN)
        // Only non-positive values on a log axis: nothing to draw.
        let (none, _) = chart([.init(name: "v", values: [-1, 0], color: blue)], 20, 5, .init(yScale: .log))
        #expect(none.line(2).contains("no data yet"))
    }

    // MARK: Distribution chart

    func bands(_ points: [Widgets.QuantileBands], _ w: Int, _ h: Int, glyphs: Glyphs = .unicode, cursor: Int? = nil) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        Widgets.distributionChart(points, in: Rect(width: w, height: h), buffer: &b, style: Style(fg: blue), theme: theme,
                                  glyphs: glyphs, names: glyphs == .ascii ? .init(outer: "5-95%", inner: "25-75%", median: "median")
                                      : .init(outer: "5–95%", inner: "25–75%", median: "median"),
                                  xLabel: "epoch", cursorX: cursor)
        return b
    }

    static let widening = [
        Widgets.QuantileBands(x: 0, outer: -1...1, inner: -0.5...0.5, median: 0),
        Widgets.QuantileBands(x: 2, outer: -3...3, inner: -1...1, median: 0),
    ]

    @Test func bandsWidenOverEpochsWithTheCursorMarked() {
        let b = bands(Self.widening, 30, 9, cursor: 1)
        #expect(b.plainText() == """
            ░ 5–95%  ▒ 25–75%  ━ median   
             3┤             │      ░░░░░░░
              │       ░░░░░░░░░░░░░░░░░░░░
              │░▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒
             0┤━━━━━━━━━━━━━━━━━━━━━━━━━━━
              │░▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒
              │       ░░░░░░░░░░░░░░░░░░░░
            -3┤             │      ░░░░░░░
               0   epoch    1            2
            """)
        #expect(b[16, 4].char == "━" && b[16, 4].style.reverse)         // the cursor over the median
        #expect(b[16, 1] == Cell(char: "│", style: theme.text))
        #expect(b[10, 2].style == Style(fg: blue, dim: true))            // the wide band, dim
        #expect(b[10, 3].style == Style(fg: blue))                       // the narrow one
        #expect(b[20, 4].style == Style(fg: blue, bold: true))           // the median, bold
        #expect(b[16, 8] == Cell(char: "1", style: theme.accent))        // the cursor's epoch
        let ascii = bands(Self.widening, 30, 9, glyphs: .ascii).plainText()
        #expect(ascii == """
            : 5-95%  # 25-75%  = median   
             3|                    :::::::
              |       ::::::::::::::::::::
              |:##########################
             0|===========================
              |:##########################
              |       ::::::::::::::::::::
            -3|                    :::::::
               0          epoch          2
            """)
    }

    @Test func oneEpochAndNothingFinite() {
        // One epoch: the band across the width; a constant is centred.
        let one = bands([.init(x: 0, outer: 0...0, inner: 0...0, median: 0)], 20, 4, cursor: 0)
        #expect(one.plainText() == """
             1┤                 
             0┤━━━━━━━━━━━━━━━━━
            -1┤                 
               0      epoch     
            """)
        let none = bands([.init(x: 0, outer: nil, inner: -Double.infinity...0, median: .nan)], 20, 4)
        #expect(none.plainText().contains("no data yet"))
    }
}

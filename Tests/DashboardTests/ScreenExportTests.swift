import Dashboard
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// What an XML parser sees in an SVG: the elements with their attributes, and the text of
/// each `<text>`.
final class SVGReader: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        /// The attributes of the enclosing elements, innermost first.
        var inherited: [[String: String]]
        var text = ""

        /// An attribute here or on an enclosing element.
        func attribute(_ name: String) -> String? {
            attributes[name] ?? inherited.lazy.compactMap { $0[name] }.first
        }
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []
    private(set) var error: Error?

    static func read(_ svg: String) -> SVGReader {
        let reader = SVGReader()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reader
        if !parser.parse() { reader.error = parser.parserError ?? CocoaError(.coderReadCorrupt) }
        return reader
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        let inherited = open.reversed().map { elements[$0].attributes }
        elements.append(Element(name: name, attributes: attributes, inherited: inherited))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = open.last { elements[i].text += string }
    }

    var texts: [Element] { elements.filter { $0.name == "text" } }

    /// The text element holding `s`, if any.
    func text(containing s: String) -> Element? { texts.first { $0.text.contains(s) } }
}

@Suite struct ScreenExportTests {
    /// A small screen with every kind of cell: colours, default colours, bold, dim, reverse,
    /// underline, box and braille characters, and text that needs escaping.
    static func sample() -> CellBuffer {
        var b = CellBuffer(width: 40, height: 6)
        b.fill(Rect(x: 0, y: 0, width: 40, height: 1), style: Style(fg: .indexed(252), bold: true))
        b.put(" cpo-tui | <title> & \"quotes\" 'x'", x: 0, y: 0, style: Style(fg: .indexed(252), bold: true))
        b.box(Rect(x: 0, y: 1, width: 40, height: 4), title: "Loss", style: Style(fg: .indexed(240)),
              titleStyle: Style(bold: true), glyphs: .unicode)
        b.put("⣿⡇⠁", x: 2, y: 2, style: Style(fg: .indexed(39)))
        b.put("DR-CPO", x: 10, y: 2, style: Style(reverse: true))
        b.put("bad", x: 20, y: 2, style: Style(fg: .indexed(203), underline: true))
        b.put("dim &amp; &#1;", x: 2, y: 3, style: Style(fg: .indexed(244), dim: true))
        b.put("on blue", x: 20, y: 3, style: Style(fg: .indexed(15), bg: .indexed(25)))
        b[30, 3] = Cell(char: "\u{0}", style: Style())            // put by subscript: not made displayable
        b[31, 3] = Cell(char: "e\u{301}", style: Style())         // two scalars in one cell
        b.put("q quit", x: 0, y: 5, style: Style(fg: .indexed(246)))
        return b
    }

    func firstX(_ e: SVGReader.Element) -> Int {
        Int(e.attributes["x"]?.split(separator: " ").first ?? "") ?? -1
    }

    @Test func theSVGIsXMLWithTheCellsTextAndColours() throws {
        let b = Self.sample()
        let svg = ScreenExport.svg(b, palette: .dark)
        let r = SVGReader.read(svg)
        #expect(r.error == nil, "\(String(describing: r.error))\n\(svg)")
        let root = try #require(r.elements.first)
        #expect(root.name == "svg" && root.attributes["width"] == "360" && root.attributes["height"] == "108")

        // Every non-blank character of the screen is in some text element, in order per row.
        for y in 0..<b.height {
            let row = r.texts.filter { $0.attributes["y"] == String(y * ScreenExport.cellHeight + 14) }
                .sorted { firstX($0) < firstX($1) }
            let shown = row.map(\.text).joined().filter { $0 != " " }
            var expected = b.line(y).filter { $0 != " " }
            expected = expected.replacingOccurrences(of: "\u{0}", with: "")
            #expect(shown == expected, "row \(y)")
        }

        // Escaped characters come back as themselves.
        let title = try #require(r.text(containing: "cpo-tui"))
        #expect(title.text == " cpo-tui | <title> & \"quotes\" 'x'".dropFirst())
        #expect(title.attribute("fill") == "#d0d0d0" && title.attribute("font-weight") == "bold")
        #expect(r.text(containing: "dim &amp; &#1;")?.attribute("fill-opacity") == "0.6")

        // Colours: the palette's for indexed colours, the page's for the default ones.
        #expect(r.text(containing: "⣿⡇⠁")?.attribute("fill") == "#00afff")
        #expect(r.text(containing: "bad")?.attribute("fill") == "#ff5f5f")
        #expect(r.text(containing: "on blue")?.attribute("fill") == "#ffffff")
        #expect(r.text(containing: "q quit")?.attribute("fill") == "#949494")
        let rects = r.elements.filter { $0.name == "rect" }
        #expect(rects.first?.attributes["fill"] == "#121212")   // the page
        // Background runs: the blue cells, and the reversed DR-CPO (default fg as its background).
        #expect(rects.contains { $0.attributes["fill"] == "#005faf" && $0.attributes["x"] == "180" && $0.attributes["width"] == "63" })
        #expect(rects.contains { $0.attributes["fill"] == "#d0d0d0" && $0.attributes["x"] == "90" && $0.attributes["width"] == "54" })
        #expect(r.text(containing: "DR-CPO")?.attribute("fill") == "#121212")
        // Underline: a one-pixel rectangle under the three cells, in the text's colour.
        #expect(rects.contains { $0.attributes["height"] == "1" && $0.attributes["x"] == "180" && $0.attributes["width"] == "27"
                && $0.attribute("fill") == "#ff5f5f" })

        // Each character sits at its own cell: braille at columns 2, 3, 4.
        #expect(r.text(containing: "⣿⡇⠁")?.attributes["x"] == "18 27 36")
        // A cell of two scalars stands alone at its cell.
        #expect(r.texts.contains { $0.text == "e\u{301}" && $0.attributes["x"] == "279" })
    }

    @Test func theLightPalette() {
        var b = CellBuffer(width: 10, height: 2)
        b.put("title", x: 0, y: 0, style: Theme.light.title)
        #expect(ScreenPalette(theme: .light) == .light)
        #expect(ScreenPalette(theme: .dark) == .dark && ScreenPalette(theme: .monochrome) == .dark)
        let svg = ScreenExport.svg(b, palette: .light)
        #expect(svg.contains("fill=\"#ffffff\"/>") && SVGReader.read(svg).error == nil)
    }

    /// A whole dashboard frame: valid XML, every panel title and method name in it.
    @Test func aDashboardFrameExports() throws {
        let frame = DashboardView.render(Lab3.snapshot(), ViewState(), width: 120, height: 40)
        let r = SVGReader.read(ScreenExport.svg(frame, palette: ScreenPalette(theme: .dark)))
        #expect(r.error == nil, "\(String(describing: r.error))")
        let all = r.texts.map(\.text).joined(separator: "\n")
        for s in ["Methods", "Loss", "Weights", "Confounding", "Generations", "FT ", "CPO ", "DR-CPO"] {
            #expect(all.contains(s), "\(s) not in \(all.count) characters")
        }
        let text = ScreenExport.text(frame)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 41, "\(lines.count) lines")
        #expect(lines.last == "" && lines.allSatisfy { $0.last != " " })
        #expect(lines.first.map { frame.line(0).hasPrefix($0) } == true)
        #expect(text.contains("╭─ Methods"))
    }

    @Test func filesAreWrittenSideBySideAndNeverOverwritten() throws {
        let dir = NSTemporaryDirectory() + "cpo-screen-tests-\(getpid())/run"
        try? FileManager.default.removeItem(atPath: dir)
        let date = Date(timeIntervalSince1970: 1_796_314_502)   // 2026-12-03 16:15:02 UTC
        let utc = TimeZone(identifier: "UTC") ?? .current
        #expect(ScreenExport.fileStem(date: date, timeZone: utc) == "screen-20261203-161502")
        let b = Self.sample()
        let first = ScreenExport.write(b, palette: .dark, into: dir, date: date, timeZone: utc)
        #expect(first == "screen written to \(dir)/screen-20261203-161502.svg (+ .txt)")
        let second = ScreenExport.write(b, palette: .dark, into: dir, date: date, timeZone: utc)
        #expect(second == "screen written to \(dir)/screen-20261203-161502-2.svg (+ .txt)")
        let txt = try String(contentsOfFile: dir + "/screen-20261203-161502.txt", encoding: .utf8)
        #expect(txt == ScreenExport.text(b))
        let svg = try String(contentsOfFile: dir + "/screen-20261203-161502-2.svg", encoding: .utf8)
        #expect(svg == ScreenExport.svg(b, palette: .dark))

        // A directory that cannot be made says so.
        let blocked = dir + "/screen-20261203-161502.txt/sub"
        let failed = ScreenExport.write(b, palette: .dark, into: blocked, date: date, timeZone: utc)
        #expect(failed.hasPrefix("screen not written: cannot create \(blocked)/"), "\(failed)")
    }

    /// The loop hands the export key the last frame and shows what it returns.
    @MainActor
    @Test func theExportKeyWritesTheFrameTheUserSees() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.key(.char("2")), .key(.char("x"))])
        var state = DashboardState()
        var exported: [CellBuffer] = []
        DashboardLoop(framesPerSecond: 10, shouldStop: { terminal.finished },
                      exportScreen: { frame, _, _ in
                          exported.append(frame)
                          return "screen written to somewhere.svg (+ .txt)"
                      })
            .run(&state, backend: terminal, source: lab)
        #expect(exported.count == 1 && exported.first?.plainText().contains("Compare") == true)
        #expect(state.view.status == "screen written to somewhere.svg (+ .txt)")
        #expect(terminal.frames.last?.line(0).contains("screen written to somewhere.svg") == true)
    }
}

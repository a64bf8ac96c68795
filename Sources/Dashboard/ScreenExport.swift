import CPOSupport
import Foundation

/// The screen as a file (the `x` key): the last frame drawn, as plain text and as an SVG
/// picture with its colours, written side by side as `screen-YYYYMMDD-HHMMSS.txt` and `.svg`.
///
/// The SVG is a grid of `cellWidth` x `cellHeight` pixel cells in a monospace font: one
/// background rectangle per run of cells with the same background, one `<text>` per run of
/// cells with the same text style (grouped in a `<g>` per style, which carries the colour,
/// bold and dim), an underline as a thin rectangle under its cells. Every character sits at
/// its own cell (`x` lists one position per character), so box drawing, block and braille
/// characters line up as on the terminal whatever the font's widths. Colours are the xterm
/// palette's (`Theme.rgb`); the terminal's own colours (`Color.default`) are the palette's
/// foreground and background (`ScreenPalette`). Reverse swaps them, as a terminal does.
///
/// Written by a small escaping writer rather than Plot's XML DSL: Plot passes text that looks
/// like an entity (`&amp;`, `&#1;`) through unescaped and does not escape attribute values,
/// and model generations can contain anything; here every character of the screen is escaped
/// (`&`, `<`, `>`, quotes) and characters XML cannot hold become U+FFFD.
public enum ScreenExport {
    /// Pixels per cell and the font size: a monospace font's advance is about 0.6 em.
    public static let cellWidth = 9
    public static let cellHeight = 18
    public static let fontSize = 15
    /// The text baseline, in pixels from the top of its cell.
    static let baseline = 14

    /// The frame as text: one line per row, trailing spaces dropped, a newline after each.
    public static func text(_ b: CellBuffer) -> String {
        var out = ""
        for y in 0..<b.height {
            var line = b.line(y)
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// The frame as an SVG document (UTF-8 text).
    public static func svg(_ b: CellBuffer, palette: ScreenPalette) -> String {
        let w = b.width * cellWidth, h = b.height * cellHeight
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" \
            font-family="'DejaVu Sans Mono', 'Menlo', 'Consolas', 'Liberation Mono', monospace" font-size="\(fontSize)" \
            xml:space="preserve">
            <title>cpo-tui screen, \(b.width)x\(b.height) cells</title>
            <rect width="\(w)" height="\(h)" fill="\(palette.background.hex)"/>

            """

        // Backgrounds: runs of cells with the same colour other than the page's.
        out += "<g shape-rendering=\"crispEdges\">\n"
        for y in 0..<b.height {
            var x = 0
            while x < b.width {
                let bg = palette.colors(b[x, y].style).background
                var end = x + 1
                while end < b.width && palette.colors(b[end, y].style).background == bg { end += 1 }
                if bg != palette.background {
                    out += "<rect x=\"\(x * cellWidth)\" y=\"\(y * cellHeight)\" width=\"\((end - x) * cellWidth)\" "
                        + "height=\"\(cellHeight)\" fill=\"\(bg.hex)\"/>\n"
                }
                x = end
            }
        }
        out += "</g>\n"

        // Text: runs of non-blank cells with the same look, grouped by look (first seen first).
        var order: [TextLook] = []
        var runs: [TextLook: [String]] = [:]
        var underlines: [RGB: [String]] = [:]
        var underlineOrder: [RGB] = []
        for y in 0..<b.height {
            let top = y * cellHeight
            var x = 0
            while x < b.width {
                let cell = b[x, y]
                let look = TextLook(cell.style, palette)
                if cell.style.underline {
                    var end = x + 1
                    while end < b.width && b[end, y].style.underline && TextLook(b[end, y].style, palette).color == look.color { end += 1 }
                    if underlines[look.color] == nil { underlineOrder.append(look.color) }
                    underlines[look.color, default: []].append(
                        "<rect x=\"\(x * cellWidth)\" y=\"\(top + cellHeight - 2)\" width=\"\((end - x) * cellWidth)\" height=\"1\"/>")
                }
                guard cell.char != " " else {
                    x += 1
                    continue
                }
                // A run: same look, spaces inside it kept, ended before trailing spaces. A
                // character of more than one Unicode scalar (or outside the BMP) stands alone,
                // since SVG renderers count `x` positions per scalar or per UTF-16 unit.
                var chars: [Character] = [cell.char]
                var end = x + 1
                if Self.singleUnit(cell.char) {
                    while end < b.width {
                        let c = b[end, y]
                        guard Self.singleUnit(c.char), c.char == " " || TextLook(c.style, palette) == look else { break }
                        chars.append(c.char)
                        end += 1
                    }
                    while chars.last == " " {
                        chars.removeLast()
                        end -= 1
                    }
                }
                let xs = (x..<end).map { String($0 * cellWidth) }.joined(separator: " ")
                if runs[look] == nil { order.append(look) }
                runs[look, default: []].append("<text x=\"\(xs)\" y=\"\(top + baseline)\">\(XMLText.escaped(String(chars), forbidden: .replaced))</text>")
                x = end
            }
        }
        for look in order {
            out += "<g fill=\"\(look.color.hex)\"" + (look.bold ? " font-weight=\"bold\"" : "")
                + (look.dim ? " fill-opacity=\"0.6\"" : "") + ">\n"
            for r in runs[look] ?? [] { out += r + "\n" }
            out += "</g>\n"
        }
        for color in underlineOrder {
            out += "<g fill=\"\(color.hex)\" shape-rendering=\"crispEdges\">\n"
            for r in underlines[color] ?? [] { out += r + "\n" }
            out += "</g>\n"
        }
        return out + "</svg>\n"
    }

    /// Whether `c` is one Unicode scalar in the Basic Multilingual Plane (one `x` position in
    /// every renderer).
    static func singleUnit(_ c: Character) -> Bool {
        c.unicodeScalars.count == 1 && (c.unicodeScalars.first?.value ?? 0) < 0x10000
    }

    /// How a run of text looks: its colour, bold and dim.
    struct TextLook: Hashable {
        var color: RGB
        var bold: Bool
        var dim: Bool

        init(_ s: Style, _ p: ScreenPalette) {
            color = p.colors(s).foreground
            bold = s.bold
            dim = s.dim
        }
    }

    // MARK: Files

    /// `screen-YYYYMMDD-HHMMSS` for `date` in `timeZone`.
    public static func fileStem(date: Date, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { String(format: "%02d", n ?? 0) }
        return "screen-\(String(format: "%04d", c.year ?? 0))\(two(c.month))\(two(c.day))-\(two(c.hour))\(two(c.minute))\(two(c.second))"
    }

    /// Writes `frame` as `screen-<time>.txt` and `.svg` into `directory` (created if missing;
    /// `-2`, `-3`, ... added when a screen of the same second is there), each atomically;
    /// returns the status line to show: where they went, or what failed.
    public static func write(_ frame: CellBuffer, palette: ScreenPalette, into directory: String,
                             date: Date = Date(), timeZone: TimeZone = .current) -> String {
        let files = FileManager.default
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            return "screen not written: cannot create \(directory)/ (\(error.localizedDescription))"
        }
        let stem = fileStem(date: date, timeZone: timeZone)
        var base = (directory as NSString).appendingPathComponent(stem)
        var k = 2
        while files.fileExists(atPath: base + ".svg") || files.fileExists(atPath: base + ".txt") {
            base = (directory as NSString).appendingPathComponent("\(stem)-\(k)")
            k += 1
        }
        do throws(FileWriteError) {
            try AtomicFile.write(Array(text(frame).utf8), to: base + ".txt")
            try AtomicFile.write(Array(svg(frame, palette: palette).utf8), to: base + ".svg")
        } catch {
            return "screen not written: \(error.description)"
        }
        return "screen written to \(base).svg (+ .txt)"
    }
}

/// A colour as red, green and blue (0-255).
public struct RGB: Hashable, Sendable {
    public var red: Int
    public var green: Int
    public var blue: Int

    public init(_ red: Int, _ green: Int, _ blue: Int) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Palette entry `i` of the xterm 256-colour palette.
    public init(index i: Int) {
        let (r, g, b) = Theme.rgb(min(255, max(0, i)))
        self.init(r, g, b)
    }

    /// `#rrggbb`.
    public var hex: String { String(format: "#%02x%02x%02x", red, green, blue) }

    /// Perceived brightness, 0-255 (ITU-R BT.601 weights).
    var luma: Double { 0.299 * Double(red) + 0.587 * Double(green) + 0.114 * Double(blue) }
}

/// The colours a terminal shows for `Color.default`: what the SVG export paints where the
/// theme leaves the terminal's own colours (themes never paint a background of their own).
public struct ScreenPalette: Hashable, Sendable {
    public var foreground: RGB
    public var background: RGB

    public init(foreground: RGB, background: RGB) {
        self.foreground = foreground
        self.background = background
    }

    /// A dark terminal: light grey (252) on near black (233).
    public static let dark = ScreenPalette(foreground: RGB(index: 252), background: RGB(index: 233))
    /// A light terminal: near black (234) on white (231).
    public static let light = ScreenPalette(foreground: RGB(index: 234), background: RGB(index: 231))

    /// The terminal `theme` is made for: light when its text colour is dark (the light theme),
    /// else dark (also for themes in the terminal's own colours).
    public init(theme: Theme) {
        self = Self.forText(theme.text.fg)
    }

    static func forText(_ c: Color) -> ScreenPalette {
        guard let i = c.index else { return .dark }
        return RGB(index: i).luma < 128 ? .light : .dark
    }

    /// The foreground and background a cell in `style` shows.
    func colors(_ style: Style) -> (foreground: RGB, background: RGB) {
        let fg = style.fg.index.map { RGB(index: $0) } ?? foreground
        let bg = style.bg.index.map { RGB(index: $0) } ?? background
        return style.reverse ? (bg, fg) : (fg, bg)
    }
}


/// The drawing surface of the dashboard: colours, styles, cells, rectangles, glyph sets and an
/// in-memory grid of cells. Pure Swift: nothing here knows about ncurses. A frame is drawn into a
/// `CellBuffer`; the terminal backend sends `diff(from:)` of consecutive frames to the screen, and
/// tests compare `plainText()` with golden strings.

import CPOSupport

// MARK: - Colour and style

/// A colour of the xterm 256-colour palette, or the terminal's own default colour.
///
/// `.default` is what every style starts with: the terminal keeps its own foreground and, above
/// all, its own background (light, dark or transparent terminals all stay readable).
public struct Color: Hashable, Sendable, CustomStringConvertible {
    private var storage: UInt8?

    private init(storage: UInt8?) { self.storage = storage }

    /// The terminal's own foreground or background colour.
    public static let `default` = Color(storage: nil)

    /// Palette entry `i`: 0-7 basic colours, 8-15 bright ones, 16-231 a 6x6x6 RGB cube,
    /// 232-255 a grey ramp.
    public static func indexed(_ i: UInt8) -> Color { Color(storage: i) }

    /// The palette index, or nil for the terminal's default colour.
    public var index: Int? { storage.map(Int.init) }

    public var isDefault: Bool { storage == nil }

    public var description: String { storage.map { String($0) } ?? "default" }
}

/// How a cell is drawn. Everything defaults to "plain": the terminal's colours, no attributes.
public struct Style: Hashable, Sendable {
    public var fg: Color
    public var bg: Color
    public var bold: Bool
    public var dim: Bool
    public var reverse: Bool
    public var underline: Bool

    public init(fg: Color = .default, bg: Color = .default, bold: Bool = false, dim: Bool = false,
                reverse: Bool = false, underline: Bool = false) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    /// The same style with the attributes of `other` added (colours of `other` win when they are
    /// not `.default`). Used to lay a highlight (e.g. a selected row) over a cell's own style.
    public func merged(with other: Style) -> Style {
        Style(fg: other.fg.isDefault ? fg : other.fg,
              bg: other.bg.isDefault ? bg : other.bg,
              bold: bold || other.bold, dim: dim || other.dim,
              reverse: reverse || other.reverse, underline: underline || other.underline)
    }
}

/// One terminal column. Every character put into a buffer occupies exactly one cell; characters
/// that a terminal would draw two columns wide, or not at all, are replaced when they are put
/// (see `CellBuffer.displayable(_:)`), so the grid and the screen never disagree.
public struct Cell: Hashable, Sendable {
    public var char: Character
    public var style: Style

    public init(char: Character = " ", style: Style = Style()) {
        self.char = char
        self.style = style
    }

    /// A space in the plain style: what a fresh buffer holds.
    public static let blank = Cell()
}

// MARK: - Rectangles and layout

/// A rectangle of cells. Widths and heights are never negative in rectangles this file produces.
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    /// The whole of a `width` x `height` screen.
    public init(width: Int, height: Int) { self.init(x: 0, y: 0, width: width, height: height) }

    public var isEmpty: Bool { width <= 0 || height <= 0 }
    /// One past the last column / row.
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }

    public var description: String { "Rect(x: \(x), y: \(y), width: \(width), height: \(height))" }

    /// Shrunk by `n` cells on every side (e.g. `inset(by: 1)` is the inside of a box); never
    /// negative: a rectangle too small to shrink becomes empty, centred where it was.
    public func inset(by n: Int) -> Rect {
        let w = max(0, width - 2 * n), h = max(0, height - 2 * n)
        return Rect(x: x + min(n, width / 2), y: y + min(n, height / 2), width: w, height: h)
    }

    /// A vertical stack of rectangles whose heights are proportional to the weights `parts`
    /// (e.g. `[2, 1]`: two thirds above, one third below). Heights always add up to `height`:
    /// remainders go to the parts with the largest fractional share (earlier parts on ties).
    /// Negative weights count as 0; all-zero weights split evenly.
    public func splitRows(_ parts: [Int]) -> [Rect] {
        var top = y
        return Rect.distribute(height, parts).map { h in
            defer { top += h }
            return Rect(x: x, y: top, width: width, height: h)
        }
    }

    /// Side-by-side rectangles whose widths are proportional to the weights `parts`; see
    /// `splitRows(_:)`.
    public func splitColumns(_ parts: [Int]) -> [Rect] {
        var left = x
        return Rect.distribute(width, parts).map { w in
            defer { left += w }
            return Rect(x: left, y: y, width: w, height: height)
        }
    }

    /// Row `i` (0 = top) as a one-row rectangle; empty when `i` is outside.
    public func row(_ i: Int) -> Rect {
        guard i >= 0, i < height else { return Rect(x: x, y: y, width: width, height: 0) }
        return Rect(x: x, y: y + i, width: width, height: 1)
    }

    /// Splits off the top `n` rows (clamped): `(top, rest)`. Fixed-size header/footer layouts.
    public func cutTop(_ n: Int) -> (Rect, Rect) {
        let k = max(0, min(n, height))
        return (Rect(x: x, y: y, width: width, height: k), Rect(x: x, y: y + k, width: width, height: height - k))
    }

    /// Splits off the left `n` columns (clamped): `(left, rest)`.
    public func cutLeft(_ n: Int) -> (Rect, Rect) {
        let k = max(0, min(n, width))
        return (Rect(x: x, y: y, width: k, height: height), Rect(x: x + k, y: y, width: width - k, height: height))
    }

    /// A `w` x `h` rectangle centred in this one (clamped to fit): overlays such as help.
    public func centered(width w: Int, height h: Int) -> Rect {
        let cw = max(0, min(w, width)), ch = max(0, min(h, height))
        return Rect(x: x + (width - cw) / 2, y: y + (height - ch) / 2, width: cw, height: ch)
    }

    /// The overlap of two rectangles (empty if they do not overlap).
    public func intersection(_ o: Rect) -> Rect {
        let x0 = max(x, o.x), y0 = max(y, o.y)
        let x1 = min(maxX, o.maxX), y1 = min(maxY, o.maxY)
        return Rect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    /// Splits `total` into integer sizes proportional to `weights` (largest remainder method).
    static func distribute(_ total: Int, _ weights: [Int]) -> [Int] {
        guard !weights.isEmpty else { return [] }
        let total = max(0, total)
        var w = weights.map { max(0, $0) }
        if w.allSatisfy({ $0 == 0 }) { w = Array(repeating: 1, count: w.count) }
        let sum = w.reduce(0, +)
        var sizes = w.map { $0 * total / sum }
        let remainders = w.indices.map { ($0, w[$0] * total % sum) }
        var left = total - sizes.reduce(0, +)
        for (i, _) in remainders.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }) where left > 0 {
            sizes[i] += 1
            left -= 1
        }
        return sizes
    }
}

// MARK: - Glyph sets

/// The characters used for lines, blocks and dots. `.unicode` needs a UTF-8 locale and a font
/// with box drawing, block elements and braille (U+2800); `.ascii` is the fallback for fonts or
/// terminals without them (Dashboard.docc/Terminal.md, "Degrading gracefully": a one-key toggle, also picked automatically when
/// the locale is not UTF-8).
public enum Glyphs: Sendable, Hashable, CaseIterable {
    case unicode, ascii

    public var boxTopLeft: Character { self == .unicode ? "╭" : "+" }
    public var boxTopRight: Character { self == .unicode ? "╮" : "+" }
    public var boxBottomLeft: Character { self == .unicode ? "╰" : "+" }
    public var boxBottomRight: Character { self == .unicode ? "╯" : "+" }
    public var boxHorizontal: Character { self == .unicode ? "─" : "-" }
    public var boxVertical: Character { self == .unicode ? "│" : "|" }

    /// Marks truncated text.
    public var ellipsis: Character { self == .unicode ? "…" : "~" }

    /// Whether line charts use braille dots (2x4 per cell) rather than one ASCII mark per cell.
    public var hasBraille: Bool { self == .unicode }

    /// Chart y-axis line and its tick at a labelled row.
    public var axisVertical: Character { self == .unicode ? "│" : "|" }
    public var axisTick: Character { self == .unicode ? "┤" : "|" }

    /// Vertical bars in eighths: index 0 (empty) ... 8 (full cell). In ASCII a cell at least half
    /// full is `#`, a smaller non-empty one `.`.
    public var verticalEighths: [Character] {
        self == .unicode ? [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
                         : [" ", ".", ".", ".", "#", "#", "#", "#", "#"]
    }

    /// Horizontal bars in eighths, growing from the left: index 0 (empty) ... 8 (full cell). In
    /// ASCII a cell at least half full is `=`, a smaller non-empty one `-`.
    public var horizontalEighths: [Character] {
        self == .unicode ? [" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]
                         : [" ", "-", "-", "-", "=", "=", "=", "=", "="]
    }

    /// A confidence-interval whisker: its line and its two ends (see `Widgets.bar`).
    public var whiskerLine: Character { self == .unicode ? "─" : "-" }
    public var whiskerLower: Character { self == .unicode ? "├" : "|" }
    public var whiskerUpper: Character { self == .unicode ? "┤" : "|" }
    /// Both ends of a whisker in one cell.
    public var whiskerBoth: Character { self == .unicode ? "│" : "|" }
    /// A reference value marked on a range (FT's value on the sensitivity bounds).
    public var referenceMark: Character { self == .unicode ? "┃" : "#" }

    /// The mark before a series name in a chart legend. In ASCII each series also has its own
    /// plot mark (`asciiMarks`), which is what its legend shows.
    public var legendMarker: Character { self == .unicode ? "━" : "*" }

    /// ASCII line-chart marks, one per series (cycled), so series stay apart without colour.
    public static let asciiMarks: [Character] = ["*", "+", "o", "x", "#", "%", "@", "="]
}

// MARK: - The buffer

/// A `width` x `height` grid of cells, row-major. Writes outside the grid are ignored and reads
/// outside it return `Cell.blank`, so widgets can clip by simply drawing.
public struct CellBuffer: Sendable, Equatable {
    public let width: Int
    public let height: Int
    private var cells: [Cell]

    /// A buffer of blank cells. Negative sizes count as 0.
    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    /// The whole buffer as a rectangle.
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// The cell at column `x`, row `y`; out of range: get returns `Cell.blank`, set is ignored.
    public subscript(x: Int, y: Int) -> Cell {
        get {
            guard x >= 0, x < width, y >= 0, y < height else { return .blank }
            return cells[y * width + x]
        }
        set {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Writes `s` from column `x` of row `y`, one character per cell, clipped to the buffer and
    /// to `maxWidth` cells (if given). Characters are made displayable first (see
    /// `displayable(_:)`): newlines and tabs become spaces, other controls and wide or
    /// invisible characters `?`. Only the characters that fit are looked at, so a long text
    /// costs no more than a short one.
    public mutating func put(_ s: String, x: Int, y: Int, style: Style = Style(), maxWidth: Int? = nil) {
        guard y >= 0, y < height else { return }
        let limit = maxWidth.map { x + max(0, $0) } ?? Int.max
        var col = x
        for ch in s {
            if col >= limit || col >= width { break }
            if col >= 0 { cells[y * width + col] = Cell(char: CellBuffer.displayable(ch), style: style) }
            col += 1
        }
    }

    /// Sets every cell of `r` (clipped to the buffer) to `char` in `style`.
    public mutating func fill(_ r: Rect, char: Character = " ", style: Style = Style()) {
        let clip = r.intersection(bounds)
        guard !clip.isEmpty else { return }
        let cell = Cell(char: CellBuffer.displayable(char), style: style)
        for yy in clip.y..<clip.maxY {
            for xx in clip.x..<clip.maxX { cells[yy * width + xx] = cell }
        }
    }

    /// Draws the border of `r`: rounded corners `╭╮╰╯` with `─` and `│` in unicode, `+`, `-` and
    /// `|` in ASCII. A title is set into the top edge as `╭─ title ───╮` (in `titleStyle`; cut
    /// with an ellipsis when too long; dropped when not even one character fits). The inside is
    /// left as it was. Rectangles narrower or lower than 2 cells draw nothing.
    public mutating func box(_ r: Rect, title: String?, style: Style, titleStyle: Style, glyphs: Glyphs) {
        guard r.width >= 2, r.height >= 2 else { return }
        let right = r.maxX - 1, bottom = r.maxY - 1
        for xx in (r.x + 1)..<right {
            self[xx, r.y] = Cell(char: glyphs.boxHorizontal, style: style)
            self[xx, bottom] = Cell(char: glyphs.boxHorizontal, style: style)
        }
        for yy in (r.y + 1)..<bottom {
            self[r.x, yy] = Cell(char: glyphs.boxVertical, style: style)
            self[right, yy] = Cell(char: glyphs.boxVertical, style: style)
        }
        self[r.x, r.y] = Cell(char: glyphs.boxTopLeft, style: style)
        self[right, r.y] = Cell(char: glyphs.boxTopRight, style: style)
        self[r.x, bottom] = Cell(char: glyphs.boxBottomLeft, style: style)
        self[right, bottom] = Cell(char: glyphs.boxBottomRight, style: style)

        // "╭─ " + title + " " + at least the corner: the title gets width - 5 cells.
        guard let title, !title.isEmpty, r.width - 5 >= 1 else { return }
        let text = Widgets.truncate(title, width: r.width - 5, glyphs: glyphs)
        put(" ", x: r.x + 2, y: r.y, style: style)
        put(text, x: r.x + 3, y: r.y, style: titleStyle)
        put(" ", x: r.x + 3 + text.count, y: r.y, style: style)
    }

    /// The characters of the buffer, rows joined by "\n" (no newline after the last row).
    /// Trailing spaces are KEPT: every row has exactly `width` characters, so golden strings show
    /// the full shape of a frame. Styles are not part of it; test them with the subscript.
    public func plainText() -> String {
        var out = ""
        out.reserveCapacity((width + 1) * height * 2)
        for yy in 0..<height {
            if yy > 0 { out.append("\n") }
            for xx in 0..<width { out.append(cells[yy * width + xx].char) }
        }
        return out
    }

    /// Row `y` as text (trailing spaces kept); "" when out of range.
    public func line(_ y: Int) -> String {
        guard y >= 0, y < height else { return "" }
        return String(cells[(y * width)..<(y * width + width)].map(\.char))
    }

    /// The cells that differ from `old`, row by row, left to right: what the backend has to
    /// redraw. When the sizes differ every cell is returned (the screen was resized).
    public func diff(from old: CellBuffer) -> [(x: Int, y: Int, cell: Cell)] {
        var out: [(x: Int, y: Int, cell: Cell)] = []
        let sameSize = old.width == width && old.height == height
        for yy in 0..<height {
            for xx in 0..<width {
                let c = cells[yy * width + xx]
                if !sameSize || old.cells[yy * width + xx] != c { out.append((x: xx, y: yy, cell: c)) }
            }
        }
        return out
    }

    /// `ch` if a terminal draws it in exactly one column; otherwise a stand-in. Text from models
    /// and data files can contain anything, and one character per cell keeps the grid honest:
    /// - tab, newline, carriage return, vertical tab, form feed, U+0085 (NEL) and the line and
    ///   paragraph separators U+2028/U+2029 become a space (they separate words);
    /// - every other control character (ESC, NUL, BEL, DEL, the C1 controls) becomes `?`: it is
    ///   shown, never sent, so no escape sequence in a text reaches the terminal;
    /// - characters drawn two columns wide (CJK, emoji, emoji sequences) or none (a lone
    ///   combining mark, the bidirectional controls U+202A-U+202E and U+2066-U+2069, zero-width
    ///   spaces and joiners and other format characters, private-use and unassigned code points)
    ///   become `?`;
    /// - a letter with combining marks keeps its nonspacing and enclosing marks, at most
    ///   `maxCombiningMarks` of them (ncurses holds no more in a cell); other characters joined
    ///   to it (spacing marks, joiners, variation selectors) are dropped.
    public static func displayable(_ ch: Character) -> Character {
        if let a = ch.asciiValue {   // "\r\n" is one Character, with the value of "\n"
            switch a {
            case 0x09...0x0D: return " "
            case 0x00..<0x20, 0x7F: return "?"
            default: return ch
            }
        }
        let scalars = ch.unicodeScalars
        guard let first = scalars.first else { return "?" }
        let v = first.value
        if v == 0x85 || v == 0x2028 || v == 0x2029 { return " " }
        if TerminalText.isControl(first) { return "?" }
        if scalars.contains(where: { $0.value == 0xFE0F }) { return "?" }  // emoji presentation
        switch first.properties.generalCategory {
        case .control, .format, .nonspacingMark, .enclosingMark, .spacingMark, .lineSeparator,
             .paragraphSeparator, .surrogate, .unassigned, .privateUse:
            return "?"
        default:
            break
        }
        if first.properties.isEmojiPresentation || isWide(v) || isZeroWidthJamo(v) { return "?" }
        var rest = scalars.dropFirst().makeIterator()
        guard var next = rest.next() else { return ch }
        var kept = String.UnicodeScalarView([first])
        var changed = false
        while true {
            let category = next.properties.generalCategory
            if (category == .nonspacingMark || category == .enclosingMark) && kept.count <= maxCombiningMarks {
                kept.append(next)
            } else {
                changed = true
                if kept.count > maxCombiningMarks { break }
            }
            guard let n = rest.next() else { break }
            next = n
        }
        if !changed { return ch }
        let s = String(kept)
        return s.count == 1 ? (s.first ?? "?") : Character(first)
    }

    /// Combining marks a cell keeps on its character (ncurses' `CCHARW_MAX` is 5: the
    /// character and four marks).
    public static let maxCombiningMarks = 4

    /// Hangul vowel and final jamo, which terminals draw zero columns wide (they join the
    /// syllable before them).
    private static func isZeroWidthJamo(_ v: UInt32) -> Bool {
        (0x1160...0x11FF).contains(v) || (0xD7B0...0xD7FF).contains(v)
    }

    /// East Asian Wide / Fullwidth ranges (Unicode 15, abridged to the blocks that matter).
    private static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF,
             0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3,
             0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF, 0x1F300...0x1F64F,
             0x1F900...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }
}

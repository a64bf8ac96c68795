import CPOSupport
import Foundation
import TOMLKit
import TOMLSupport

/// A problem in a theme file, located by line when possible. `description` is what the user
/// sees: `themes/mine.toml:7: unknown role "txt" in [roles]. Roles are: text, dim, ...`.
public struct ThemeError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    /// 1-based line of the offending key, value or table header; nil when it is about the
    /// whole file (e.g. it cannot be read).
    public var line: Int?
    public var message: String
    /// What to do about it.
    public var hint: String

    public init(file: String, line: Int?, message: String, hint: String) {
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(message). \(hint)"
    }
}

/// Named roles -> styles: every colour the dashboard uses comes from here, so a theme file
/// changes all of them. Themes never paint a background unless the file says so: terminals
/// keep their own (light, dark or transparent) background (Dashboard.docc/Terminal.md, "Degrading gracefully").
///
/// Theme files (`themes/*.toml`, TOML 1.0):
///
/// ```toml
/// name = "dark"                                  # optional; default: the file name without .toml
/// series = [39, 214, 170, 114, 203, 81, 221]     # optional; line-chart colours, cycled
/// [roles]                                        # optional; every role is optional
/// text = { fg = 252 }
/// focused_border = { fg = 214, bold = true }
/// selected = { reverse = true }
/// ```
///
/// - Top-level keys: `name` (non-empty string), `series` (non-empty list of colours), `roles`.
/// - Roles: `text`, `dim`, `border`, `focused_border`, `title`, `header`, `selected`, `good`,
///   `bad`, `warning`, `accent`, `hint`. A role is a table (inline `{ ... }` or a
///   `[roles.text]` section) with any of `fg`, `bg` (colours) and `bold`, `dim`, `reverse`,
///   `underline` (booleans, default false). A role written in the file replaces the default one
///   entirely (`text = { bold = true }` is bold in the terminal's colour); a role left out takes
///   the dark theme's style, and a missing `series` the dark theme's colours.
/// - Colours: an integer 0-255 (xterm 256-colour palette) or `"default"` (the terminal's own
///   colour; also what an absent `fg`/`bg` means).
/// - Unknown keys, roles or style keys, wrong types and out-of-range colours are errors that
///   name the file and line.
public struct Theme: Sendable, Equatable {
    public var name: String
    /// Ordinary text.
    public var text: Style
    /// Secondary text: axis labels, units, "no data yet".
    public var dim: Style
    /// Panel borders; `focusedBorder` for the panel with focus.
    public var border: Style
    public var focusedBorder: Style
    /// Panel titles and the top bar.
    public var title: Style
    /// Table header rows and section headings.
    public var header: Style
    /// The selected table row (laid over the row's own styles).
    public var selected: Style
    /// Improvements, passing checks / regressions, failures / alarms that need a look.
    public var good: Style
    public var bad: Style
    public var warning: Style
    /// Emphasis: histogram bars, the prompt being typed.
    public var accent: Style
    /// The key hint bar at the bottom.
    public var hint: Style
    /// Line-chart series colours, cycled (`seriesColor(_:)`).
    public var series: [Color]

    public init(name: String, text: Style, dim: Style, border: Style, focusedBorder: Style, title: Style,
                header: Style, selected: Style, good: Style, bad: Style, warning: Style, accent: Style,
                hint: Style, series: [Color]) {
        self.name = name
        self.text = text
        self.dim = dim
        self.border = border
        self.focusedBorder = focusedBorder
        self.title = title
        self.header = header
        self.selected = selected
        self.good = good
        self.bad = bad
        self.warning = warning
        self.accent = accent
        self.hint = hint
        self.series = series
    }

    /// Colour of series `i`, cycling through `series` (`.default` if it is empty).
    public func seriesColor(_ i: Int) -> Color {
        series.isEmpty ? .default : series[((i % series.count) + series.count) % series.count]
    }

    /// The roles by their file names, in the order the files list them.
    public static var roles: [(key: String, path: WritableKeyPath<Theme, Style>)] {
        [("text", \.text), ("dim", \.dim), ("border", \.border), ("focused_border", \.focusedBorder),
         ("title", \.title), ("header", \.header), ("selected", \.selected), ("good", \.good), ("bad", \.bad),
         ("warning", \.warning), ("accent", \.accent), ("hint", \.hint)]
    }

    // MARK: Built-in themes (identical to the files in themes/; a test checks it)

    private static func fg(_ i: UInt8, bold: Bool = false) -> Style {
        Style(fg: .indexed(i), bold: bold)
    }

    /// A theme of 256-colour foregrounds in the shape dark and light share: the title in the
    /// text colour, focused border, title and header bold, the selected row reversed.
    private static func foregrounds(_ name: String, text: UInt8, dim: UInt8, border: UInt8, focusedBorder: UInt8,
                                    header: UInt8, good: UInt8, bad: UInt8, warning: UInt8, accent: UInt8, hint: UInt8,
                                    series: [UInt8]) -> Theme {
        Theme(name: name, text: fg(text), dim: fg(dim), border: fg(border), focusedBorder: fg(focusedBorder, bold: true),
              title: fg(text, bold: true), header: fg(header, bold: true), selected: Style(reverse: true),
              good: fg(good), bad: fg(bad), warning: fg(warning), accent: fg(accent), hint: fg(hint),
              series: series.map(Color.indexed))
    }

    /// The default, for dark backgrounds (256 colours). Also the fallback for missing roles.
    public static let dark = foregrounds(
        "dark", text: 252, dim: 244, border: 240, focusedBorder: 214, header: 110,
        good: 114, bad: 203, warning: 221, accent: 39, hint: 246, series: [39, 214, 170, 114, 203, 81, 221])

    /// For light (white) backgrounds: dark, saturated foregrounds.
    public static let light = foregrounds(
        "light", text: 234, dim: 242, border: 245, focusedBorder: 25, header: 24,
        good: 28, bad: 160, warning: 130, accent: 25, hint: 240, series: [25, 166, 90, 28, 160, 30, 94])

    /// Maximum contrast: text in the terminal's own foreground (readable on any background),
    /// bold structure, saturated status colours, underlined headings.
    public static let highContrast = Theme(
        name: "high-contrast",
        text: Style(), dim: Style(), border: Style(), focusedBorder: fg(226, bold: true),
        title: Style(bold: true), header: Style(bold: true, underline: true),
        selected: Style(bold: true, reverse: true),
        good: fg(46, bold: true), bad: fg(196, bold: true), warning: fg(226, bold: true),
        accent: fg(51, bold: true), hint: Style(bold: true),
        series: [51, 226, 201, 46, 196, 208, 15].map(Color.indexed))

    /// No colours at all: bold, dim, reverse and underline carry focus, selection and status.
    public static let monochrome = Theme(
        name: "monochrome",
        text: Style(), dim: Style(dim: true), border: Style(), focusedBorder: Style(bold: true),
        title: Style(bold: true), header: Style(bold: true, underline: true), selected: Style(reverse: true),
        good: Style(bold: true), bad: Style(bold: true, underline: true), warning: Style(underline: true),
        accent: Style(bold: true), hint: Style(dim: true),
        series: [.default])

    /// The shipped themes, in cycling order; their names are the file names in themes/.
    public static let builtIn: [Theme] = [.dark, .light, .highContrast, .monochrome]

    /// A built-in theme by name (`dark`, `light`, `high-contrast`, `monochrome`).
    public static func named(_ name: String) -> Theme? { builtIn.first { $0.name == name } }

    // MARK: Degrading to what the terminal can show

    /// The theme as a terminal with `colors` colours can show it:
    /// - 256 or more: unchanged.
    /// - 8 to 255: every palette index becomes one of the 8 basic colours 0-7: saturated colours
    ///   by hue (orange 214 -> yellow 3, sky blue 39 -> cyan 6, ...), near-black greys -> 0,
    ///   near-white greys -> 7, and mid greys -> the terminal's default colour (plus `dim` for a
    ///   foreground), because a mid grey turned black or white would vanish on a dark or a light
    ///   background.
    /// - fewer than 8 (monochrome): no colours at all; bold, dim, reverse and underline stay.
    /// In both degraded cases the focused border is made to differ from the plain border (bold,
    /// else reverse) and the selected row from plain text (reverse) if colour was all that told
    /// them apart, so focus and selection stay visible.
    public func degraded(toColors colors: Int) -> Theme {
        guard colors < 256 else { return self }
        let mono = colors < 8
        var t = self
        for (_, path) in Theme.roles {
            t[keyPath: path] = mono ? Theme.withoutColour(self[keyPath: path]) : Theme.basic(self[keyPath: path])
        }
        t.series = series.map { mono ? .default : Theme.basicColor($0).color }
        if t.focusedBorder == t.border {
            t.focusedBorder.bold = true
            if t.focusedBorder == t.border { t.focusedBorder.reverse = true }
        }
        if t.selected == t.text {
            t.selected.reverse.toggle()
        }
        return t
    }

    private static func withoutColour(_ s: Style) -> Style {
        var s = s
        s.fg = .default
        s.bg = .default
        return s
    }

    private static func basic(_ s: Style) -> Style {
        var out = s
        let f = basicColor(s.fg)
        out.fg = f.color
        if f.midGrey { out.dim = true }
        out.bg = basicColor(s.bg).color
        return out
    }

    /// The nearest basic colour (0-7) of a palette index, or `.default` (with `midGrey`) for a
    /// mid grey. Indices 0-7 and `.default` are kept.
    static func basicColor(_ c: Color) -> (color: Color, midGrey: Bool) {
        guard let i = c.index else { return (.default, false) }
        if i < 8 { return (c, false) }
        let (r, g, b) = rgb(i)
        let hi = max(r, g, b), lo = min(r, g, b)
        if hi - lo >= 60 {
            // Hue in degrees, then the nearest of red 0, yellow 60, green 120, cyan 180, blue 240,
            // magenta 300.
            let d = Double(hi - lo)
            var h: Double
            if hi == r {
                h = 60 * (Double(g - b) / d)
            } else if hi == g {
                h = 60 * (Double(b - r) / d + 2)
            } else {
                h = 60 * (Double(r - g) / d + 4)
            }
            if h < 0 { h += 360 }
            let byHue: [UInt8] = [1, 3, 2, 6, 4, 5]
            return (.indexed(byHue[Int((h / 60).rounded()) % 6]), false)
        }
        let light = (hi + lo) / 2
        if light < 64 { return (.indexed(0), false) }
        if light > 192 { return (.indexed(7), false) }
        return (.default, true)
    }

    /// xterm's RGB for palette index `i` (0-255).
    public static func rgb(_ i: Int) -> (Int, Int, Int) {
        switch i {
        case 0..<16:
            let table: [(Int, Int, Int)] = [
                (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
                (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
                (255, 0, 255), (0, 255, 255), (255, 255, 255),
            ]
            return table[i]
        case 16..<232:
            let level = [0, 95, 135, 175, 215, 255]
            let k = i - 16
            return (level[k / 36], level[(k / 6) % 6], level[k % 6])
        default:
            let v = 8 + 10 * (i - 232)
            return (v, v, v)
        }
    }
}

// MARK: - Loading

/// Theme files are TOML files: `Theme.load(path:)`, `Theme.parse(bytes:file:)` and
/// `Theme.parse(_:file:)` read them through `TOMLFile`, the loading path they share with world
/// files, and report every problem as a ``ThemeError`` on its line.
extension Theme: TOMLFileFormat {
    /// Theme files larger than this are refused before they are read (a theme is a few KB).
    public static let maxFileBytes = 1 << 20

    static var builtInHint: String { "use a built-in theme: " + builtIn.map(\.name).joined(separator: ", ") }
    static let syntaxHint = "Fix the TOML syntax on this line (the format is described at the top of themes/dark.toml)."

    /// A problem reading the file or parsing it as TOML, in the words of theme files. A theme
    /// error has a line but no column: the column goes into the message.
    public static func failure(_ e: TOMLFileError) -> ThemeError {
        func at(_ message: String, _ hint: String) -> ThemeError {
            ThemeError(file: e.file, line: e.line, message: message, hint: hint)
        }
        let column = e.column.map { "column \($0)" } ?? ""
        switch e.reason {
        case .unreadable(let error):
            let reason: String
            switch error {
            case .notFound: reason = "no such file"
            case .isDirectory: reason = "it is a directory"
            case let .tooLarge(_, size, limit):
                return at("the theme file is \(BoundedFile.describeSize(size)), more than the limit of \(BoundedFile.describeSize(limit))",
                          "A theme file is a few lines of TOML: check that this is the right file, or \(builtInHint).")
            case .cannotAccess(_, let r), .cannotOpen(_, let r), .readFailed(_, let r):
                reason = r.prefix(1).lowercased() + r.dropFirst()   // "permission denied"
            case .notRegular, .symlinkLoop, .changedWhileReading:
                reason = error.problem
            }
            return at("cannot read the theme file (\(reason))", "Check the path, or \(builtInHint).")
        case .notUTF8(let p):
            return at("cannot read the theme file (not UTF-8 text: \(p) at \(column))", "Save it as UTF-8, or \(builtInHint).")
        case .refused(let p):
            switch p.kind {
            case .nul:
                return at("cannot read the theme file (a NUL character at \(column), which TOML does not allow)",
                          "A theme file is UTF-8 text: check that this is the right file, or \(builtInHint).")
            case .escapedNUL:
                return at("a string holds \\u0000 (a NUL character), which a theme file cannot hold", "Remove the \\u0000 escape.")
            case .tooDeep:
                return at("\(p.message) (\(column))",
                          "A theme file needs two levels at most ([roles] and a role's { ... }); check that this is the right file.")
            case .headerName, .arrayElement, .dateTime:
                return at("TOML syntax error: \(p.message) (\(column))", syntaxHint)
            }
        case .syntax(let description):
            return at("TOML syntax error: \(description)", syntaxHint)
        case .unparsable:
            return at("cannot parse the theme file as TOML", "Check its syntax against themes/dark.toml.")
        }
    }

    /// Checks a parsed theme file against the format (see ``Theme``) and builds the theme; its
    /// default name is the file's last path component without `.toml`.
    public init(document: TOMLDocument) throws(ThemeError) {
        self = try ThemeFileReader(document).read()
    }

    /// Every `*.toml` theme in `directory`, sorted by name with the built-in order first (dark,
    /// light, high-contrast, monochrome), and the files that failed to load.
    public static func loadDirectory(_ directory: String) -> (themes: [Theme], errors: [ThemeError]) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var themes: [Theme] = [], errors: [ThemeError] = []
        for f in files.sorted() where f.hasSuffix(".toml") {
            do {
                themes.append(try load(path: (directory as NSString).appendingPathComponent(f)))
            } catch {
                errors.append(error)
            }
        }
        let order = builtIn.map(\.name)
        themes.sort { a, b in
            let ia = order.firstIndex(of: a.name) ?? order.count, ib = order.firstIndex(of: b.name) ?? order.count
            return ia != ib ? ia < ib : a.name < b.name
        }
        return (themes, errors)
    }
}

// MARK: - Reading the parsed file

/// Checks a parsed theme file against the format and builds the theme, locating problems in
/// the raw text (TOMLKit keeps no positions).
struct ThemeFileReader {
    let document: TOMLDocument

    init(_ document: TOMLDocument) { self.document = document }

    static let topKeys = ["name", "series", "roles"]
    static let styleKeys = ["fg", "bg", "bold", "dim", "reverse", "underline"]
    static let colourHint = "A colour is an integer 0-255 (xterm 256-colour palette) or \"default\" (the terminal's own colour)."

    func read() throws(ThemeError) -> Theme {
        let root = document.root
        try checkKeys(root, allowed: Self.topKeys, path: "", what: "at the top level",
                      hint: "Allowed top-level keys: name, series, roles (style roles go in the [roles] table).")
        var theme = Theme.dark
        theme.name = Self.defaultName(document.file)

        if let v = root["name"] {
            guard let s = v.string else {
                throw error(at: "name", "name must be a string, found \(v.type)", "Write it in double quotes, e.g. name = \"mine\".")
            }
            guard !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw error(at: "name", "name is empty", "Give the theme a name, e.g. name = \"mine\".")
            }
            theme.name = s
        }

        if let v = root["series"] {
            guard let list = v.array else {
                throw error(at: "series", "series must be a list of colours, found \(v.type)",
                            "Write e.g. series = [39, 214, 170].")
            }
            guard !list.isEmpty else {
                throw error(at: "series", "series is empty", "List at least one colour, e.g. series = [39, 214, 170].")
            }
            var colours: [Color] = []
            for k in 0..<list.count {
                colours.append(try colour(list[k], path: "series[\(k)]", what: "series element \(k + 1)"))
            }
            theme.series = colours
        }

        if let v = root["roles"] {
            guard let roles = v.table else {
                throw error(at: "roles", "roles must be a table, found \(v.type)",
                            "Write a [roles] section with lines like text = { fg = 252 }.")
            }
            let names = Theme.roles.map(\.key)
            try checkKeys(roles, allowed: names, path: "roles", what: "in [roles]",
                          hint: "Roles are: \(names.joined(separator: ", ")).", kind: "role")
            for (key, keyPath) in Theme.roles {
                guard let r = roles[key] else { continue }
                theme[keyPath: keyPath] = try style(r, path: "roles.\(key)", role: key)
            }
        }
        return theme
    }

    static func defaultName(_ file: String) -> String {
        let base = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        return base.isEmpty ? "custom" : base
    }

    private func style(_ v: TOMLValueConvertible, path: String, role: String) throws(ThemeError) -> Style {
        guard let t = v.table else {
            throw error(at: path, "role \(role) must be a table, found \(v.type)",
                        "Write it as \(role) = { fg = 252, bold = true } (or {} for the plain style).")
        }
        try checkKeys(t, allowed: Self.styleKeys, path: path, what: "in role \(role)",
                      hint: "A role may set: fg, bg (colours) and bold, dim, reverse, underline (true or false).",
                      kind: "key")
        var s = Style()
        if let c = t["fg"] { s.fg = try colour(c, path: path + ".fg", what: "\(role).fg") }
        if let c = t["bg"] { s.bg = try colour(c, path: path + ".bg", what: "\(role).bg") }
        for (key, attr) in [("bold", \Style.bold), ("dim", \Style.dim), ("reverse", \Style.reverse),
                            ("underline", \Style.underline)] as [(String, WritableKeyPath<Style, Bool>)] {
            guard let b = t[key] else { continue }
            guard let flag = b.bool else {
                throw error(at: "\(path).\(key)", "\(role).\(key) must be true or false, found \(b.type)",
                            "Write \(key) = true or \(key) = false (no quotes).")
            }
            s[keyPath: attr] = flag
        }
        return s
    }

    private func colour(_ v: TOMLValueConvertible, path: String, what: String) throws(ThemeError) -> Color {
        if let s = v.string {
            guard s == "default" else {
                throw error(at: path, "\(what) is \"\(s)\", not a colour", Self.colourHint)
            }
            return .default
        }
        guard let i = v.int else {
            throw error(at: path, "\(what) must be a colour, found \(v.type)", Self.colourHint)
        }
        guard (0...255).contains(i) else {
            throw error(at: path, "\(what) is \(i), outside 0-255", Self.colourHint)
        }
        return .indexed(UInt8(i))
    }

    private func checkKeys(_ t: TOMLTable, allowed: [String], path: String, what: String, hint: String,
                           kind: String = "key") throws(ThemeError) {
        guard let (key, full) = document.firstUnknownKey(in: t, at: path, allowed: allowed) else { return }
        throw error(at: full, "unknown \(kind) \"\(key)\" \(what)", hint)
    }

    private func error(at path: String, _ message: String, _ hint: String) -> ThemeError {
        ThemeError(file: document.file, line: document.position(of: path)?.line, message: message, hint: hint)
    }
}

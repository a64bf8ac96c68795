import Foundation
import Testing
import Dashboard

@Suite struct ThemeTests {
    /// themes/ at the repository root, found from this file's path.
    static let themesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("themes").path

    static func styles(_ t: Theme) -> [Style] {
        Theme.roles.map { t[keyPath: $0.path] }
    }

    static func colours(_ t: Theme) -> [Color] {
        styles(t).flatMap { [$0.fg, $0.bg] } + t.series
    }

    func parseError(_ toml: String) -> ThemeError? {
        do {
            _ = try Theme.parse(toml, file: "bad.toml")
            return nil
        } catch {
            return error
        }
    }

    // MARK: Shipped files

    @Test func shippedThemeFilesLoadAndMatchTheBuiltIns() throws {
        for builtIn in Theme.builtIn {
            let path = Self.themesDirectory + "/\(builtIn.name).toml"
            let loaded = try Theme.load(path: path)
            #expect(loaded == builtIn, "\(path) differs from Theme.\(builtIn.name)")
        }
        let (themes, errors) = Theme.loadDirectory(Self.themesDirectory)
        #expect(errors.isEmpty, "\(errors)")
        #expect(themes.map(\.name) == ["dark", "light", "high-contrast", "monochrome"])
    }

    @Test func themesNeverPaintABackground() {
        for t in Theme.builtIn {
            #expect(Self.styles(t).allSatisfy { $0.bg == .default }, "\(t.name)")
        }
    }

    @Test func lightThemeUsesDarkForegrounds() {
        // Every coloured foreground of the light theme is dark enough to read on white.
        for s in Self.styles(.light) {
            guard let i = s.fg.index else { continue }
            let (r, g, b) = Theme.rgb(i)
            let luminance = 0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b)
            #expect(luminance < 160, "fg \(i)")
        }
        for c in Theme.light.series {
            let (r, g, b) = Theme.rgb(c.index ?? 0)
            #expect(0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b) < 160, "series \(c)")
        }
    }

    @Test func monochromeHasNoColoursButKeepsFocusAndSelectionVisible() {
        let m = Theme.monochrome
        #expect(Self.colours(m).allSatisfy { $0.isDefault })
        #expect(m.focusedBorder != m.border)
        #expect(m.selected != m.text)
    }

    @Test func darkIsTheDefaultViewTheme() {
        #expect(Theme.named("dark") == Theme.dark)
        #expect(Theme.named("high-contrast") == Theme.highContrast)
        #expect(Theme.named("nope") == nil)
    }

    // MARK: Parsing

    @Test func missingRolesTakeTheDarkThemesAndWrittenRolesReplaceWhole() throws {
        let t = try Theme.parse("""
            name = "mine"
            [roles]
            text = { bold = true }
            border = { fg = "default", bg = 17 }
            """, file: "themes/mine.toml")
        #expect(t.name == "mine")
        #expect(t.text == Style(bold: true))          // no fg: the terminal's colour, not dark's 252
        #expect(t.border == Style(fg: .default, bg: .indexed(17)))
        #expect(t.focusedBorder == Theme.dark.focusedBorder)
        #expect(t.series == Theme.dark.series)
    }

    @Test func otherTOMLSpellingsOfTheSameTheme() throws {
        let sections = try Theme.parse("""
            series = [1, 2]
            [roles.text]
            fg = 12
            underline = true
            """, file: "x/sections.toml")
        let dotted = try Theme.parse("""
            series = [1, 2]
            roles.text.fg = 12
            roles.text.underline = true
            """, file: "x/sections.toml")
        #expect(sections == dotted)
        #expect(sections.text == Style(fg: .indexed(12), underline: true))
        #expect(sections.name == "sections")            // default name: the file name
        #expect(sections.series == [.indexed(1), .indexed(2)])
    }

    @Test func badThemesNameTheRightLine() {
        let cases: [(String, Int, String)] = [
            ("name = \"m\"\n\n[roles]\ntext = { fg = 252 }\ntxt = { fg = 1 }\n", 5, "unknown role \"txt\""),
            ("[roles]\nzzz = {}\ntext = {}\naaa = {}\n", 2, "unknown role \"zzz\""),   // first in the file
            ("[roles]\ntext = {}\nborder = { fg = 300 }\n", 3, "border.fg is 300, outside 0-255"),
            ("series = [\n  39,\n  \"red\",\n]\n", 3, "series element 2 is \"red\""),
            ("series = [39, 2.5]\n", 1, "series element 2 must be a colour"),
            ("series = []\n", 1, "series is empty"),
            ("# comment\n[roles]\ntext = { fg = 1, italic = true }\n", 3, "unknown key \"italic\" in role text"),
            ("[roles]\ntext = { bold = \"yes\" }\n", 2, "text.bold must be true or false"),
            ("[roles]\n\n[roles.hint]\nfg = 1\nblink = true\n", 5, "unknown key \"blink\" in role hint"),
            ("roles.text.fg = -1\n", 1, "text.fg is -1"),
            ("[roles]\ntext = 252\n", 2, "role text must be a table"),
            ("name = \"ok\"\ncolour = 1\n", 2, "unknown key \"colour\" at the top level"),
            ("name = \"\"\n", 1, "name is empty"),
            ("roles = 3\n", 1, "roles must be a table"),
            ("name = \"x\"\n[roles]\ntext = { fg = }\n", 3, "TOML syntax error"),
            ("name = \"x\"\nname = \"y\"\n", 2, "TOML syntax error"),
            ("\u{FEFF}[roles]\r\n\r\ntxt = {}\r\n", 3, "unknown role \"txt\""),   // BOM and CRLF
            ("name = \"\"\"a\nb\"\"\"\n[roles]\ntext = { fg = 'x' }\n", 4, "text.fg is \"x\""),  // multi-line string
        ]
        for (toml, line, message) in cases {
            let e = parseError(toml)
            #expect(e?.line == line, "\(toml)")
            #expect(e?.message.hasPrefix(message) == true, "\(String(describing: e?.message))")
            #expect(e?.file == "bad.toml")
            #expect(e?.hint.isEmpty == false)
        }
    }

    @Test func errorDescriptionIsFileLineMessageHint() {
        let e = parseError("[roles]\ntxt = {}\n")
        #expect(e?.description == "bad.toml:2: unknown role \"txt\" in [roles]. Roles are: text, dim, border, "
                + "focused_border, title, header, selected, good, bad, warning, accent, hint.")
        let missing = Self.themesDirectory + "/no-such-theme.toml"
        #expect(throws: ThemeError(file: missing, line: nil, message: "cannot read the theme file (no such file)",
                                   hint: "Check the path, or use a built-in theme: dark, light, high-contrast, monochrome.")) {
            try Theme.load(path: missing)
        }
        #expect(ThemeError(file: "f", line: nil, message: "m", hint: "h.").description == "f: m. h.")
    }

    /// Inputs the fuzz tests found to crash toml++ 3.4 inside TOMLKit (minimized; see
    /// `TOMLGuard`), bytes that are not text, and a file over the size limit: each is a
    /// ThemeError on the right line, and the oversized file is refused without being read.
    @Test func hostileThemeFilesAreErrorsNotCrashes() throws {
        for (toml, line) in [("name = \"x\"\n[\n", 2), ("series = [1,}", 1), ("[roles]\ntext = { fg = 1979-05-27T: }", 2)] {
            let e = try #require(parseError(toml))
            #expect(e.line == line, "\(toml.debugDescription): \(e)")
            #expect(e.message.hasPrefix("TOML syntax error"))
        }
        let nul = try #require(parseError("name = \"x\"\n# \u{0}\n"))
        #expect(nul.line == 2 && nul.message.contains("NUL"))
        let escaped = try #require(parseError("[roles]\n\"text\\u0000x\" = { fg = 1 }\n"))
        #expect(escaped.line == 2 && escaped.message.contains("\\u0000"))
        #expect(throws: ThemeError(file: "t.toml", line: 1,
                                   message: "cannot read the theme file (not UTF-8 text: invalid UTF-8 (bytes FF 22) at column 9)",
                                   hint: "Save it as UTF-8, or use a built-in theme: dark, light, high-contrast, monochrome.")) {
            try Theme.parse(bytes: Array("name = \"".utf8) + [0xFF] + Array("\"".utf8), file: "t.toml")
        }
        #expect(try Theme.parse(bytes: Array("name = \"fine\"".utf8), file: "t.toml").name == "fine")
        // A long one-line list: positions used to cost O(line) per element (64 KB took 24 s).
        let series = "series = [" + Array(repeating: "7", count: 100_000).joined(separator: ",")
        #expect(try Theme.parse(series + "]\n", file: "t.toml").series.count == 100_000)
        let badSeries = try #require(parseError(series + ",300]\n"))
        #expect(badSeries.line == 1 && badSeries.message.contains("series element 100001 is 300"))

        let dir = NSTemporaryDirectory() + "cpo-theme-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/huge.toml"
        try "name = \"huge\"\n".write(toFile: path, atomically: false, encoding: .utf8)
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        guard fd >= 0, ftruncate(fd, off_t(Theme.maxFileBytes + 1)) == 0 else { return }
        #expect(throws: ThemeError(file: path, line: nil, message: "the theme file is 1.1 MB, more than the limit of 1 MB",
                                   hint: "A theme file is a few lines of TOML: check that this is the right file, or use a built-in theme: dark, light, high-contrast, monochrome.")) {
            try Theme.load(path: path)
        }
    }

    // MARK: Degrading

    /// A theme whose roles and series use every palette index.
    static let allColours: Theme = {
        var t = Theme.dark
        t.series = (0...255).map { Color.indexed(UInt8($0)) }
        t.text = Style(fg: .indexed(196), bg: .indexed(21))
        t.border = Style(fg: .indexed(244))
        t.focusedBorder = Style(fg: .indexed(245))
        return t
    }()

    @Test func degradedTo256IsUnchanged() {
        #expect(Theme.dark.degraded(toColors: 256) == Theme.dark)
        #expect(Self.allColours.degraded(toColors: 1 << 24) == Self.allColours)
    }

    @Test func degradedTo8UsesOnlyBasicColours() {
        for colors in [8, 16, 88] {
            let d = Self.allColours.degraded(toColors: colors)
            #expect(Self.colours(d).allSatisfy { ($0.index ?? 0) < 8 }, "\(colors)")
        }
        let d = Self.allColours.degraded(toColors: 8)
        func mapped(_ i: Int) -> Int? { d.series[i].index }
        #expect((0...7).allSatisfy { mapped($0) == $0 })           // basic colours stay
        #expect(mapped(9) == 1 && mapped(12) == 4 && mapped(15) == 7)
        #expect(mapped(196) == 1 && mapped(46) == 2 && mapped(226) == 3 && mapped(21) == 4)
        #expect(mapped(201) == 5 && mapped(51) == 6 && mapped(231) == 7 && mapped(16) == 0)
        #expect(mapped(214) == 3 && mapped(39) == 6 && mapped(114) == 2 && mapped(203) == 1)
        #expect(mapped(232) == 0 && mapped(255) == 7)
        #expect(mapped(244) == nil && mapped(8) == nil)             // mid greys: the default colour
        #expect(d.text == Style(fg: .indexed(1), bg: .indexed(4)))
        #expect(d.border == Style(dim: true))                       // mid grey fg: default, dimmed
        #expect(d.focusedBorder != d.border)                        // both mid grey: focus made bold
        #expect(d.focusedBorder.bold)
    }

    @Test func shippedThemesKeepFocusAndSelectionAt8AndMonochrome() {
        for t in Theme.builtIn {
            for colors in [8, 2, 1, 0] {
                let d = t.degraded(toColors: colors)
                #expect(d.focusedBorder != d.border, "\(t.name) at \(colors)")
                #expect(d.selected != d.text, "\(t.name) at \(colors)")
                #expect(d.name == t.name)
            }
        }
    }

    @Test func degradedToMonochromeHasNoColours() {
        for t in Theme.builtIn + [Self.allColours] {
            let d = t.degraded(toColors: 1)
            #expect(Self.colours(d).allSatisfy { $0.isDefault }, "\(t.name)")
        }
        let d = Theme.dark.degraded(toColors: 1)
        #expect(d.focusedBorder == Style(bold: true))               // kept from the dark theme
        #expect(d.selected == Style(reverse: true))
        #expect(d.border == Style())
        #expect(Theme.highContrast.degraded(toColors: 0).header == Style(bold: true, underline: true))
    }
}

import Dashboard
import Foundation
import OutcomeData
import Testing

/// The config file: good and bad files (every error at its line and column, the defaults used),
/// key names, rebinding, and the text `config show` prints.
@Suite struct DashboardConfigTests {
    static let file = "config.toml"

    func parse(_ toml: String) throws -> DashboardConfig {
        try DashboardConfig.parse(toml, file: Self.file)
    }

    func parseError(_ toml: String) -> InputError? {
        do {
            _ = try DashboardConfig.parse(toml, file: Self.file)
            return nil
        } catch {
            return error
        }
    }

    /// A folder of its own under the temporary directory.
    static func folder(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "cpo-config-tests-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    // MARK: Good files

    @Test func theDefaultsAreTheBuiltInOnes() {
        let c = DashboardConfig()
        #expect(c.theme == "dark" && c.loadedTheme == .dark && !c.ascii && !c.mouse && c.fps == 15)
        #expect(c.world == ShippedWorlds.defaultName && c.file == nil)
        #expect(c.keymap.bindings.map(\.keys) == Keymap.standard.bindings.map(\.keys))
        #expect(DashboardConfig.settings.allSatisfy { c.source(of: $0) == "default" })
    }

    @Test func aFullFileSetsEverything() throws {
        let c = try parse("""
            # mine
            theme = "light"
            ascii = true
            mouse = true
            world = "seawall-survey"
            fps = 10

            [keys]
            stepAll = ["N", "F5"]
            exportScreen = "Ctrl-E"
            selectNext = ["down", "J"]
            """)
        #expect(c.theme == "light" && c.loadedTheme == .light && c.ascii && c.mouse && c.fps == 10)
        #expect(c.world == "seawall-survey")
        #expect(c.keymap.binding(for: .stepAll)?.keys == [.char("N"), .f(5)])
        #expect(c.keymap.binding(for: .exportScreen)?.keys == [.ctrl("e")])
        #expect(c.keymap.binding(for: .selectNext)?.keys == [.down, .char("J")])
        #expect(c.keymap.action(for: .char("n")) == nil && c.keymap.action(for: .char("N")) == .stepAll)
        #expect(c.keymap.duplicateKeys.isEmpty)
        #expect(c.source(of: "theme") == "config.toml:2" && c.source(of: "fps") == "config.toml:6")
        #expect(c.source(of: "keys.stepAll") == "config.toml:9" && c.source(of: "keys.quit") == "default")
    }

    @Test func anEmptyFileIsTheDefaults() throws {
        let c = try parse("# nothing here\n")
        #expect(c.fps == 15 && c.theme == "dark" && c.positions.isEmpty && c.file == Self.file)
    }

    // MARK: Bad files: each error has its line and column and says what to do

    @Test func badFilesAreErrorsAtTheirLineAndColumn() {
        let cases: [(toml: String, line: Int, column: Int, says: String)] = [
            ("fps = 99\n", 1, 1, "fps is 99, outside 1-15"),
            ("fps = 10.5\n", 1, 1, "fps must be a whole number"),
            ("ascii = true\nmouse = \"yes\"\n", 2, 1, "mouse must be true or false, found string"),
            ("theme = 3\n", 1, 1, "theme must be a string"),
            ("world = \"\"\n", 1, 1, "world is empty"),
            ("fps = 5\ncolour = 1\n", 2, 1, "unknown setting \"colour\""),
            ("Theme = \"dark\"\n", 1, 1, "Did you mean theme?"),
            ("keys = 3\n", 1, 1, "keys must be a table"),
            ("[keys]\nstepall = [\"n\"]\n", 2, 1, "Did you mean stepAll?"),
            ("[keys]\nfrobnicate = [\"n\"]\n", 2, 1, "unknown action \"frobnicate\""),
            ("[keys]\nstepAll = [\"N\", \"Ctl-x\"]\n", 2, 17, "unknown key name \"Ctl-x\""),
            ("[keys]\nstepAll = [\"N\", 5]\n", 2, 17, "a key name must be a string, found integer"),
            ("[keys]\nstepAll = 5\n", 2, 1, "stepAll must be a list of key names"),
            ("[keys]\nstepAll = [\"N\", \"N\"]\n", 2, 17, "listed twice"),
            ("[keys]\nstepAll = [\"Ctrl-C\"]\n", 2, 12, "Ctrl-C cannot be bound"),
            ("[keys]\nstepAll = [\"s\"]\n", 2, 12, "key s is bound to both stepAll and stepSelected (by default)"),
            ("[keys]\nquit = []\n", 2, 1, "quit has no key left"),
            ("fps = \n", 1, 7, "TOML syntax error"),
            ("a = \"\\u0000\"\n", 1, 6, "\\u0000"),
            ("[\n", 1, 2, "TOML syntax error"),
        ]
        for c in cases {
            let e = parseError(c.toml)
            #expect(e?.line == c.line && e?.column == c.column, "\(c.toml): \(String(describing: e))")
            #expect(e?.description.contains(c.says) == true, "\(c.toml): \(String(describing: e))")
            #expect(e?.description.hasPrefix("config.toml:\(c.line):\(c.column): ") == true, "\(String(describing: e))")
            #expect(e.map { !$0.hint.isEmpty } == true)
        }
    }

    /// A duplicate made by two rebindings blames the later line, the one that took the key.
    @Test func aDuplicateCreatedByRebindingIsAnError() {
        let e = parseError("""
            [keys]
            exportScreen = ["F5"]
            stepAll = ["n", "F5"]
            """)
        #expect(e?.line == 3 && e?.column == 17, "\(String(describing: e))")
        #expect(e?.message == "key F5 is bound to both stepAll and exportScreen", "\(String(describing: e))")
        // Moving the other action's key away too makes it valid.
        #expect(parseError("[keys]\nstepAll = [\"s\"]\nstepSelected = [\"S\"]\n") == nil)
    }

    @Test func notUTF8IsAnErrorWithAPosition() {
        var bytes = Array("fps = 5\ntheme = \"".utf8)
        bytes += [0xFF, 0x22, 0x0A]
        do {
            _ = try DashboardConfig.parse(bytes: bytes, file: Self.file)
            Issue.record("accepted")
        } catch {
            #expect(error.line == 2 && error.column == 10 && error.description.contains("not valid UTF-8"), "\(error)")
        }
    }

    // MARK: Loading from disk: missing, bad, resolved

    @Test func aMissingFileIsTheDefaultsUnlessNamed() throws {
        let dir = try Self.folder("missing")
        let implicit = DashboardConfig.Location(path: dir + "/config.toml", explicit: false)
        let (c, e) = DashboardConfig.load(implicit, themeFolders: [])
        #expect(e == nil && c.file == nil && c.fps == 15)
        let named = DashboardConfig.Location(path: dir + "/config.toml", explicit: true)
        let (d, f) = DashboardConfig.load(named, themeFolders: [])
        #expect(d.file == nil && f?.description.contains("file not found") == true, "\(String(describing: f))")
    }

    @Test func aBadFileGivesTheDefaultsAndTheError() throws {
        let dir = try Self.folder("bad")
        let path = dir + "/config.toml"
        try "theme = \"light\"\nfps = 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (c, e) = DashboardConfig.load(DashboardConfig.Location(path: path, explicit: false), themeFolders: [])
        #expect(c.theme == "dark" && c.loadedTheme == .dark && c.fps == 15 && c.file == nil)
        #expect(e?.file == path && e?.line == 2 && e?.column == 1)
    }

    /// Theme and world files named by a relative path are read from the config file's folder;
    /// one that does not load is an error at the setting's line.
    @Test func themeAndWorldFilesAreResolvedBesideTheConfig() throws {
        let dir = try Self.folder("resolve")
        let path = dir + "/config.toml"
        try "name = \"mine\"\n[roles]\ntext = { fg = 1 }\n".write(toFile: dir + "/mine.toml", atomically: true, encoding: .utf8)
        try "fps = 3\ntheme = \"mine.toml\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let c = try DashboardConfig.load(path: path, themeFolders: [])
        #expect(c.theme == dir + "/mine.toml" && c.loadedTheme.name == "mine" && c.loadedTheme.text.fg == .indexed(1))

        try "name = \"mine\"\n[roles]\ntxt = {}\n".write(toFile: dir + "/mine.toml", atomically: true, encoding: .utf8)
        #expect(throws: InputError.self) { try DashboardConfig.load(path: path, themeFolders: []) }
        do {
            _ = try DashboardConfig.load(path: path, themeFolders: [])
        } catch {
            #expect(error.line == 2 && error.column == 1 && error.description.contains("mine.toml:3: unknown role \"txt\""), "\(error)")
        }

        try "theme = \"no-such-theme\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try DashboardConfig.load(path: path, themeFolders: [])
            Issue.record("accepted")
        } catch {
            #expect(error.line == 1 && error.description.contains("theme \"no-such-theme\" not found"), "\(error)")
        }

        try "\n\nworld = \"no-such-world\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try DashboardConfig.load(path: path, themeFolders: [])
            Issue.record("accepted")
        } catch {
            #expect(error.line == 3 && error.column == 1 && error.description.contains("world \"no-such-world\" does not load"), "\(error)")
        }
    }

    @Test func whereTheFileIsLookedFor() {
        let base = ["HOME": "/home/u"]
        #expect(DashboardConfig.locate(environment: base) == .init(path: "/home/u/.config/cpo-tui/config.toml", explicit: false))
        #expect(DashboardConfig.locate(environment: base.merging(["XDG_CONFIG_HOME": "/x"]) { $1 })
                == .init(path: "/x/cpo-tui/config.toml", explicit: false))
        // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
        #expect(DashboardConfig.locate(environment: base.merging(["XDG_CONFIG_HOME": "rel"]) { $1 }).path
                == "/home/u/.config/cpo-tui/config.toml")
        #expect(DashboardConfig.locate(environment: base.merging(["CPO_TUI_CONFIG": "/c.toml", "XDG_CONFIG_HOME": "/x"]) { $1 })
                == .init(path: "/c.toml", explicit: true))
        #expect(DashboardConfig.locate(option: "my.toml", environment: ["CPO_TUI_CONFIG": "/c.toml"]) == .init(path: "my.toml", explicit: true))
    }

    // MARK: Key names

    @Test func keyNamesRoundTrip() {
        var keys: [Key] = Keymap.standard.bindings.flatMap(\.keys)
        keys += [.tab, .backTab, .enter, .escape, .backspace, .ctrl("l"), .ctrl("e"), .f(1), .f(5), .f(12), .up, .down, .left, .right,
                 .pageUp, .pageDown, .home, .end, .char(" "), .char("N"), .char("é"), .char("\\"), .char("\""), .char("#")]
        for k in keys {
            #expect(Key(name: k.name) == k, "\(k.name)")
        }
        let spelled: [(String, Key)] = [("up", .up), ("DOWN", .down), ("left", .left), ("Right", .right), ("tab", .tab),
                                        ("shift-tab", .backTab), ("ESCAPE", .escape), ("return", .enter), ("PageUp", .pageUp),
                                        ("pgdn", .pageDown), ("ctrl-l", .ctrl("l")), ("f5", .f(5)), ("space", .char(" "))]
        for (name, k) in spelled { #expect(Key(name: name) == k, "\(name)") }
        for bad in ["", "nn", "Ctl-x", "F0", "F13", "f+5", "Ctrl-1", "\t", "\u{7}", "日", "spacebar"] {
            #expect(Key(name: bad) == nil, "\(bad)")
        }
        #expect(Key(name: "n") != Key(name: "N"))
    }

    // MARK: Rebinding: the keymap, the help overlay and the hint bar follow

    @Test func aRebindingReachesTheKeysTheHelpAndTheHintBar() throws {
        let c = try parse("[keys]\nstepAll = [\"N\", \"F5\"]\nexportScreen = [\"X\"]\nhelp = []\n")
        var state = DashboardState()
        state.view.keymap = c.keymap
        let snapshot = Lab3.snapshot()
        #expect(state.handle(.char("N"), snapshot: snapshot) == [.send(.stepEpoch(nil))])
        #expect(state.handle(.f(5), snapshot: snapshot) == [.send(.stepEpoch(nil))])
        #expect(state.handle(.char("n"), snapshot: snapshot).isEmpty)
        #expect(state.handle(.char("X"), snapshot: snapshot) == [.exportScreen])
        #expect(state.handle(.char("?"), snapshot: snapshot).isEmpty && !state.view.showHelp)

        let help = c.keymap.helpLines()
        #expect(help.contains { $0.hasPrefix("N F5") && $0.hasSuffix("step one epoch (all methods)") }, "\(help)")
        #expect(help.contains { $0.hasPrefix("X ") && $0.hasSuffix("export the screen as text and SVG (into the run directory)") })
        let bar = c.keymap.hintBar(width: 300)
        #expect(bar.hasPrefix("N step  space run/pause") && bar.contains("X export") && !bar.contains("? help"), "\(bar)")
        #expect(!bar.contains("n step") && !bar.contains("x export"))

        // The frame shows the new hint bar.
        var view = ViewState()
        view.keymap = c.keymap
        let frame = DashboardView.render(snapshot, view, width: 120, height: 40)
        #expect(frame.line(39).hasPrefix("N step"), "\(frame.line(39))")
    }

    /// Hints that name two actions' keys (`↑↓ select`) stay while the action keeps its main
    /// key, and name the new main key when it does not.
    @Test func compositeHintsFollowTheMainKey() {
        let kept = Keymap.standard.rebinding(.selectNext, to: [.down, .char("J")])
        #expect(kept.binding(for: .selectNext)?.hint == "↑↓ select")
        #expect(kept.binding(for: .selectNext)?.label == "↓ J")
        let moved = Keymap.standard.rebinding(.selectNext, to: [.char("J")])
        #expect(moved.binding(for: .selectNext)?.hint == "J select")
        let unbound = Keymap.standard.rebinding(.zoom, to: [])
        #expect(unbound.binding(for: .zoom)?.inHintBar == false && unbound.unboundActions == [.zoom])
    }

    /// `watch` takes the rebound keys less the training ones.
    @Test func watchKeepsTheRebindingsWithoutTheTrainingKeys() throws {
        let c = try parse("[keys]\nstepAll = [\"N\"]\nviewCompare = [\"C\"]\n")
        let watching = c.keymap.withoutTrainingKeys()
        #expect(watching.binding(for: .stepAll) == nil && watching.binding(for: .viewCompare)?.keys == [.char("C")])
        #expect(watching.hintBar(width: 200).contains("read-only (watching)  ? help") && !watching.hintBar(width: 200).contains("step"))
        #expect(Keymap.standard.withoutTrainingKeys(showing: "comparing").hintBar(width: 200).contains("read-only (comparing)  ? help"))
        #expect(Keymap.readOnly.bindings.map(\.action) == Keymap.standard.withoutTrainingKeys().bindings.map(\.action))
    }

    // MARK: config show

    /// The text `config show` prints loads back as the same configuration, and says where
    /// each value came from.
    @Test func theConfigShownLoadsBack() throws {
        let c = try parse("""
            theme = "high-contrast"
            mouse = true
            fps = 7
            [keys]
            stepAll = ["N", "\\\\"]
            exportScreen = ["\\"", "F5"]
            """)
        let text = c.tomlText()
        #expect(text.contains("theme = \"high-contrast\"") && text.contains("# config.toml:1"))
        #expect(text.contains("ascii = false") && text.contains("# default"))
        #expect(text.contains("stepAll = [\"N\", \"\\\\\"]"), "\(text)")
        #expect(text.contains("quit = [\"q\", \"Esc\"]") && text.contains("quit (the terminal is restored)"))
        for a in Action.allCases { #expect(text.contains("\n\(a.rawValue) = ["), "\(a)") }
        let back = try DashboardConfig.parse(text, file: "shown.toml")
        #expect(back.theme == c.theme && back.mouse == c.mouse && back.fps == c.fps && back.ascii == c.ascii && back.world == c.world)
        #expect(back.keymap.bindings.map(\.keys) == c.keymap.bindings.map(\.keys))
        // The defaults load back as the defaults.
        let defaults = try DashboardConfig.parse(DashboardConfig().tomlText(), file: "defaults.toml")
        #expect(defaults.keymap.bindings.map(\.keys) == Keymap.standard.bindings.map(\.keys) && defaults.fps == 15)
    }
}

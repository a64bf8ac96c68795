import CPOSupport
import Foundation
import OutcomeData
import TOMLKit
import TOMLSupport

/// The user's settings for the dashboard (`config.toml`): theme, ASCII drawing, mouse, the
/// default world, the frame rate and key bindings. Command-line flags override the file, the
/// file overrides the built-in defaults (the values of `DashboardConfig()`).
///
/// Where it is: `$CPO_TUI_CONFIG` if set, else `$XDG_CONFIG_HOME/cpo-tui/config.toml`, else
/// `~/.config/cpo-tui/config.toml` (see `DashboardConfig.locate(environment:)`); commands that
/// read it take `--config PATH` too. A missing file is not an error: the defaults apply.
///
/// ```toml
/// theme = "light"          # a built-in theme (dark, light, high-contrast, monochrome) or a theme file
/// ascii = false            # draw with ASCII only
/// mouse = true             # clicks and the wheel (M toggles it)
/// world = "seawall-survey" # when neither --world nor --data is given
/// fps = 10                 # frames per second at most, 1-15
///
/// [keys]                   # an action and its keys; replaces that action's default keys
/// stepAll = ["n", "F5"]
/// exportScreen = ["x", "Ctrl-E"]
/// ```
///
/// - Every key is optional; unknown keys, wrong types, unknown actions or key names, a key
///   bound twice and an unbound `quit` are errors at their line and column (``InputError``).
/// - Theme and world files named by a relative path are read from the config file's folder.
/// - Key names are what the help overlay shows (`Key.name`, read back by `Key(name:)`):
///   a character (`n`, `N`, `/`), `space`, `Tab`, `Shift-Tab`, `Enter`, `Esc`, `Backspace`,
///   `up`/`↑`, `down`/`↓`, `left`/`←`, `right`/`→`, `PgUp`, `PgDn`, `Home`, `End`, `Ctrl-L`,
///   `F1`-`F12`. An empty list unbinds an action (except `quit`).
public struct DashboardConfig: Sendable {
    /// The frame rates allowed (`fps`, as `--fps`).
    public static let fpsRange = 1...15
    /// The top-level settings, in the order `config show` prints them.
    public static let settings = ["theme", "ascii", "mouse", "world", "fps"]

    /// The theme as the file wrote it: a built-in name, or a theme file (relative paths made
    /// relative to the config file's folder).
    public var theme = "dark"
    /// The theme `theme` names; a file is loaded by `resolve(themeFolders:)`.
    public var loadedTheme: Theme = .dark
    public var ascii = false
    public var mouse = false
    /// The world the dashboard, `run` and `export` use when neither --world nor --data is given.
    public var world = ShippedWorlds.defaultName
    public var fps = 15
    /// `Keymap.standard` with the file's rebindings; `cpo-tui watch` uses it without the
    /// training keys (`Keymap.withoutTrainingKeys()`).
    public var keymap: Keymap = .standard

    /// The file the values were read from; nil: the built-in defaults.
    public var file: String?
    /// Where the file set each setting: top-level names (`theme`, `fps`) and `keys.ACTION`.
    public var positions: [String: TOMLLocator.Position] = [:]

    /// The built-in defaults.
    public init() {}

    /// Whether the file set `setting` (`theme`, `fps`, `keys.stepAll`, ...).
    public func isSet(_ setting: String) -> Bool { positions[setting] != nil }

    /// Where `setting` came from, for `config show`: `default`, or `FILE:LINE`.
    public func source(of setting: String) -> String {
        guard let file, let p = positions[setting] else { return "default" }
        return "\(file):\(p.line)"
    }
}

// MARK: - Where the file is

extension DashboardConfig {
    /// Where the config file is looked for, and why there.
    public struct Location: Sendable, Equatable {
        public var path: String
        /// Named by the user (--config, CPO_TUI_CONFIG): then a missing file is an error.
        public var explicit: Bool

        public init(path: String, explicit: Bool) {
            self.path = path
            self.explicit = explicit
        }
    }

    /// The config file: `--config` (`option`) if given, else `$CPO_TUI_CONFIG` if set, else
    /// `$XDG_CONFIG_HOME/cpo-tui/config.toml` (an absolute XDG_CONFIG_HOME only, as the XDG
    /// base directory spec says), else `$HOME/.config/cpo-tui/config.toml`.
    public static func locate(option: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> Location {
        if let option { return Location(path: option, explicit: true) }
        if let p = environment["CPO_TUI_CONFIG"], !p.isEmpty { return Location(path: p, explicit: true) }
        let base: String
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            base = xdg
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            base = (home as NSString).appendingPathComponent(".config")
        }
        return Location(path: ((base as NSString).appendingPathComponent("cpo-tui") as NSString).appendingPathComponent("config.toml"),
                        explicit: false)
    }

    /// The configuration at `location`: the file's if it loads; the built-in defaults and no
    /// error when the file is missing and was not named by the user; the built-in defaults and
    /// the error when it does not load (a bad config never stops the program).
    public static func load(_ location: Location, themeFolders: [String]) -> (config: DashboardConfig, error: InputError?) {
        if !location.explicit && !FileManager.default.fileExists(atPath: location.path) { return (DashboardConfig(), nil) }
        do {
            return (try load(path: location.path, themeFolders: themeFolders), nil)
        } catch {
            return (DashboardConfig(), error)
        }
    }

    /// Reads, checks and resolves the file at `path` (a missing file is an error here).
    public static func load(path: String, themeFolders: [String]) throws(InputError) -> DashboardConfig {
        var c = try load(path: path)
        try c.resolve(themeFolders: themeFolders)
        return c
    }

    /// Loads the theme file or finds the built-in theme `theme` names (NAME.toml in
    /// `themeFolders` first), and checks that `world` names a world that loads; a problem is
    /// an error at the setting's line and column.
    public mutating func resolve(themeFolders: [String]) throws(InputError) {
        if isSet("theme") {
            let found: Theme?
            do {
                found = try Theme.find(theme, folders: themeFolders)
            } catch {
                throw problem(at: "theme", "the theme file \(theme) does not load (or name a built-in theme: "
                                + Theme.builtInNames.joined(separator: ", ") + ")", error.description)
            }
            guard let found else {
                throw problem(at: "theme", "theme \"\(theme)\" not found",
                              "Use \(Theme.builtInNames.joined(separator: ", ")) or the path of a theme file "
                                + "(a relative path is read from the config file's folder).")
            }
            loadedTheme = found
        }
        if isSet("world") {
            do {
                _ = try World.load(path: try ShippedWorlds.resolve(world))
            } catch {
                throw problem(at: "world", "world \"\(world)\" does not load",
                              error.description)
            }
        }
    }

    private func problem(at setting: String, _ message: String, _ hint: String) -> InputError {
        let p = positions[setting]
        return InputError(file: file ?? "config", line: p?.line, column: p?.column, message: message, hint: hint)
    }
}

// MARK: - Reading the file

extension DashboardConfig: TOMLFileFormat {
    /// Config files larger than this are refused before they are read (a config is a few lines).
    public static let maxFileBytes = 1 << 20

    static let syntaxHint = "Fix the TOML syntax at this position (`cpo-tui config show` prints a valid config to start from)."

    /// A problem reading the file or parsing it as TOML, in the words of config files.
    public static func failure(_ e: TOMLFileError) -> InputError {
        InputError(e, as: TOMLFileWording(
            noun: "config file",
            notFound: "Check the path, or leave --config and CPO_TUI_CONFIG out to use the default location.",
            isDirectory: "Name the config.toml file itself.",
            tooLarge: "A config file is a few lines of TOML: check that this is the right file.",
            unreadable: "Check that the path is a readable file.",
            nul: "A config file is UTF-8 text: check that this is the right file.",
            tooDeep: "A config file needs two levels at most (the [keys] table); check that this is the right file.",
            syntax: syntaxHint, unparsable: syntaxHint))
    }

    /// Checks a parsed config file and builds the configuration (theme and world not yet
    /// loaded: `resolve(themeFolders:)` does that).
    public init(document: TOMLDocument) throws(InputError) {
        var reader = ConfigFileReader(document)
        self = try reader.read()
    }
}

/// Checks a parsed config file against the format, in the order of the file, so the first
/// problem reported is the first in the file.
struct ConfigFileReader {
    let document: TOMLDocument
    var config = DashboardConfig()

    init(_ document: TOMLDocument) {
        self.document = document
        config.file = document.file
    }

    static let topKeys = DashboardConfig.settings + ["keys"]
    static let keyNamesHint = "Key names: a character (n, N, /), space, Tab, Shift-Tab, Enter, Esc, Backspace, up, down, left, right, "
        + "PgUp, PgDn, Home, End, Ctrl-A .. Ctrl-Z, F1 .. F12."

    mutating func read() throws(InputError) -> DashboardConfig {
        let root = document.root
        for key in document.locator.sortedBySource(root.keys, under: "") {
            guard let v = root[key] else { continue }
            config.positions[key] = document.position(of: key)
            switch key {
            case "theme":
                config.theme = try path(v, key, example: "theme = \"light\"")
                if let builtIn = Theme.named(config.theme) { config.loadedTheme = builtIn }
            case "world": config.world = try path(v, key, example: "world = \"seawall-survey\"")
            case "ascii": config.ascii = try flag(v, key)
            case "mouse": config.mouse = try flag(v, key)
            case "fps":
                let range = DashboardConfig.fpsRange
                let hint = "Write a whole number of frames per second from \(range.lowerBound) to \(range.upperBound), e.g. fps = 10."
                guard let n = v.int else { throw error(at: key, "fps must be a whole number, found \(v.type)", hint) }
                guard range.contains(n) else { throw error(at: key, "fps is \(n), outside \(range.lowerBound)-\(range.upperBound)", hint) }
                config.fps = n
            case "keys":
                try readKeys(v)
            default:
                let hint = Self.suggestion(key, among: Self.topKeys)
                    ?? "Settings are theme, ascii, mouse, world, fps and the [keys] table."
                throw error(at: key, "unknown setting \"\(key)\"", hint)
            }
        }
        return config
    }

    /// A non-empty string; a path (with a `/` or ending in `.toml`) made relative to the config
    /// file's folder, `~/` expanded.
    func path(_ v: TOMLValueConvertible, _ key: String, example: String) throws(InputError) -> String {
        guard let s = v.string else {
            throw error(at: key, "\(key) must be a string, found \(v.type)", "Write it in double quotes, e.g. \(example).")
        }
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw error(at: key, "\(key) is empty", "Give a name or a file, e.g. \(example), or leave the line out for the default.")
        }
        guard s.contains("/") || s.hasSuffix(".toml") else { return s }
        let expanded = (s as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return (expanded as NSString).standardizingPath }
        let folder = (document.file as NSString).deletingLastPathComponent
        return folder.isEmpty ? expanded : ((folder as NSString).appendingPathComponent(expanded) as NSString).standardizingPath
    }

    func flag(_ v: TOMLValueConvertible, _ key: String) throws(InputError) -> Bool {
        guard let b = v.bool else {
            throw error(at: key, "\(key) must be true or false, found \(v.type)", "Write \(key) = true or \(key) = false (no quotes).")
        }
        return b
    }

    /// The `[keys]` table: each action's new keys replace its default ones; then the keymap
    /// must bind no key twice and keep `quit` bound.
    mutating func readKeys(_ v: TOMLValueConvertible) throws(InputError) {
        guard let table = v.table else {
            throw error(at: "keys", "keys must be a table, found \(v.type)",
                        "Write a [keys] section with lines like stepAll = [\"n\", \"F5\"].")
        }
        /// The new keys of each rebound action.
        var rebound: [Action: [Key]] = [:]
        var keymap = Keymap.standard
        for name in document.locator.sortedBySource(table.keys, under: "keys") {
            let path = "keys.\(name)"
            guard let action = Action(rawValue: name) else {
                let hint = Self.suggestion(name, among: Action.allCases.map(\.rawValue))
                    ?? "Actions are the names `cpo-tui config show` lists under [keys], e.g. stepAll, runPause, exportScreen, quit."
                throw error(at: path, "unknown action \"\(name)\" in [keys]", hint)
            }
            guard let value = table[name] else { continue }
            config.positions[path] = document.position(of: path)
            let keys = try keyList(value, action: action, path: path)
            if action == .quit && keys.isEmpty {
                throw error(at: path, "quit has no key left", "Give quit at least one key, e.g. quit = [\"q\"].")
            }
            rebound[action] = keys
            keymap = keymap.rebinding(action, to: keys)
        }
        for key in keymap.duplicateKeys {
            let owners = keymap.bindings.filter { $0.keys.contains(key) }.map(\.action)
            // Blame the rebound action that appears last in the file (the one that took the key).
            let blamed = owners.filter { rebound[$0] != nil }.max { a, b in
                let pa = config.positions["keys.\(a.rawValue)"], pb = config.positions["keys.\(b.rawValue)"]
                return (pa?.line ?? 0, pa?.column ?? 0) < (pb?.line ?? 0, pb?.column ?? 0)
            } ?? owners[0]
            let others = owners.filter { $0 != blamed }.map { rebound[$0] == nil ? "\($0.rawValue) (by default)" : $0.rawValue }
            let index = rebound[blamed]?.firstIndex(of: key) ?? 0
            throw error(at: "keys.\(blamed.rawValue)[\(index)]",
                        "key \(key.name) is bound to both \(blamed.rawValue) and \(others.joined(separator: " and "))",
                        "A key does one thing: pick another key for \(blamed.rawValue), or give \(others.count == 1 ? "that action" : "those actions") other keys in [keys] too.")
        }
        config.keymap = keymap
    }

    /// An action's keys: a list of key names (or one name as a string).
    func keyList(_ v: TOMLValueConvertible, action: Action, path: String) throws(InputError) -> [Key] {
        let example = "\(action.rawValue) = [\"\(Keymap.standard.binding(for: action)?.keys.first?.name ?? "x")\"]"
        if v.string != nil { return [try key(v, path: path, action: action)] }
        guard let list = v.array else {
            throw error(at: path, "\(action.rawValue) must be a list of key names, found \(v.type)", "Write e.g. \(example).")
        }
        var keys: [Key] = []
        for i in 0..<list.count {
            let k = try key(list[i], path: "\(path)[\(i)]", action: action)
            if keys.contains(k) {
                throw error(at: "\(path)[\(i)]", "key \(k.name) is listed twice for \(action.rawValue)", "List each key once.")
            }
            keys.append(k)
        }
        return keys
    }

    func key(_ v: TOMLValueConvertible, path: String, action: Action) throws(InputError) -> Key {
        guard let name = v.string else {
            throw error(at: path, "a key name must be a string, found \(v.type)", "Write key names in double quotes. " + Self.keyNamesHint)
        }
        guard let key = Key(name: name) else {
            throw error(at: path, "unknown key name \"\(name)\" for \(action.rawValue)", Self.keyNamesHint)
        }
        if let why = key.unreachable {
            throw error(at: path, "\(key.name) cannot be bound (\(why))", "Pick another key.")
        }
        return key
    }

    /// "Did you mean X?" when `name` differs from one of `candidates` only in case, `_`/`-`.
    static func suggestion(_ name: String, among candidates: [String]) -> String? {
        func fold(_ s: String) -> String { s.lowercased().filter { $0 != "_" && $0 != "-" } }
        return candidates.first { fold($0) == fold(name) }.map { "Did you mean \($0)?" }
    }

    func error(at path: String, _ message: String, _ hint: String) -> InputError {
        let p = document.position(of: path)
        return InputError(file: document.file, line: p?.line, column: p?.column, message: message, hint: hint)
    }
}

// MARK: - Key names

extension Key {
    /// The key `name` spells: the inverse of `Key.name` (`Key(name: k.name) == k`), plus
    /// spellings that are easier to type: `up` for `↑`, `PageUp`, `Escape`, `Return`, any case
    /// for the named keys (`tab`, `ctrl-l`, `f5`). A single other character is that
    /// character (case kept: `n` and `N` differ). Nil for anything else.
    public init?(name: String) {
        let named: [String: Key] = [
            "space": .char(" "), " ": .char(" "), "up": .up, "↑": .up, "down": .down, "↓": .down, "left": .left, "←": .left,
            "right": .right, "→": .right, "tab": .tab, "shift-tab": .backTab, "backtab": .backTab, "enter": .enter,
            "return": .enter, "esc": .escape, "escape": .escape, "backspace": .backspace, "pgup": .pageUp,
            "pageup": .pageUp, "pgdn": .pageDown, "pagedown": .pageDown, "home": .home, "end": .end,
        ]
        let lower = name.lowercased()
        if let k = named[lower] {
            self = k
            return
        }
        if lower.hasPrefix("ctrl-"), lower.count == 6, let c = lower.last, c.isASCII, c.isLetter {
            self = .ctrl(c)
            return
        }
        if lower.hasPrefix("f"), lower.count > 1, let n = Int(lower.dropFirst()), (1...12).contains(n),
           lower.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
            self = .f(n)
            return
        }
        guard name.count == 1, let c = name.first, CellBuffer.displayable(c) == c, !c.isWhitespace else { return nil }
        self = .char(c)
    }

    /// Why the dashboard never receives this key (so binding it would do nothing), or nil.
    public var unreachable: String? {
        guard case .ctrl(let c) = self else { return nil }
        switch c {
        case "c": return "it stays the signal that stops cpo-tui"
        case "z": return "it stays the signal that suspends cpo-tui"
        case "s", "q": return "the terminal uses Ctrl-S and Ctrl-Q for flow control"
        case "h": return "the terminal sends Ctrl-H as Backspace"
        case "i": return "the terminal sends Ctrl-I as Tab"
        case "j", "m": return "the terminal sends Ctrl-J and Ctrl-M as Enter"
        default: return nil
        }
    }
}

// MARK: - Rebinding

extension Keymap {
    /// The keymap with `action`'s keys replaced by `keys` (none: unbound), its help label and
    /// hint-bar entry rewritten to name them. A hint that names several actions' keys at once
    /// (`↑↓ select`, `1-3 views`) is kept while the action keeps its main key.
    public func rebinding(_ action: Action, to keys: [Key]) -> Keymap {
        var m = self
        for i in m.bindings.indices where m.bindings[i].action == action {
            let old = m.bindings[i]
            m.bindings[i].keys = keys
            m.bindings[i].label = keys.map(\.name).joined(separator: " ")
            guard old.inHintBar else { continue }
            guard let main = keys.first else {
                m.bindings[i].inHintBar = false
                continue
            }
            let parts = old.hint.split(separator: " ", maxSplits: 1)
            let keyPart = parts.first.map(String.init) ?? ""
            let words = parts.count > 1 ? String(parts[1]) : ""
            let composite = keyPart != old.keys.first?.name
            if composite, let oldMain = old.keys.first, keys.contains(oldMain) { continue }
            m.bindings[i].hint = words.isEmpty ? main.name : main.name + " " + words
        }
        return m
    }
}

// MARK: - Writing the configuration in effect

extension DashboardConfig {
    /// The configuration as a config file: every setting and every action's keys, each with
    /// where it came from (`default` or FILE:LINE) and, for keys, what the action does. It
    /// loads back as the same configuration.
    public func tomlText(location: Location? = nil) -> String {
        var lines: [String] = []
        if let file {
            lines.append("# The configuration in effect, read from \(file).")
        } else if let location {
            lines.append("# No config file at \(location.path): the built-in defaults.")
        } else {
            lines.append("# The built-in defaults.")
        }
        lines.append("# After each value: where it comes from (default, or the file and line). Command-line")
        lines.append("# flags (--theme, --ascii, --mouse, --world, --fps) override these for one run.")
        lines.append("")
        func row(_ text: String, _ comment: String, width: Int) -> String {
            text + String(repeating: " ", count: max(1, width - text.count + 1)) + "# " + comment
        }
        let top: [(String, String)] = [
            ("theme", "theme = " + Self.quoted(theme)), ("ascii", "ascii = \(ascii)"), ("mouse", "mouse = \(mouse)"),
            ("world", "world = " + Self.quoted(world)), ("fps", "fps = \(fps)"),
        ]
        let topWidth = top.map(\.1.count).max() ?? 0
        for (key, text) in top { lines.append(row(text, source(of: key), width: topWidth)) }
        lines.append("")
        lines.append("[keys]")
        lines.append("# Every action and its keys. A line in your file replaces that action's keys; [] unbinds it.")
        let keyRows = Action.allCases.map { a -> (String, String) in
            let b = keymap.binding(for: a)
            let text = a.rawValue + " = [" + (b?.keys ?? []).map { Self.quoted($0.name) }.joined(separator: ", ") + "]"
            let from = source(of: "keys.\(a.rawValue)")
            return (text, (b?.help).map { "\(from): \($0)" } ?? from)
        }
        let keyWidth = keyRows.map(\.0.count).max() ?? 0
        for (text, comment) in keyRows { lines.append(row(text, comment, width: keyWidth)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `s` as a TOML basic string.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += String(format: "\\u%04X", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

import Foundation

/// What a terminal can show, decided from the user's locale, and how the dashboard draws on it.
///
/// A locale whose character set is not UTF-8 (`LANG=C`, `POSIX`, unset, `de_DE.ISO-8859-1`)
/// says the terminal shows ASCII at best: the dashboard then draws with ASCII glyphs and the
/// backend sends ASCII only (`asciiFallback(_:)` for every other character, text from data
/// included), unless the user chose otherwise (`--no-ascii`, or `ascii = false` in the config
/// file). A UTF-8 locale gets Unicode box drawing, blocks and braille unless the user chose
/// `--ascii`.
public struct TerminalCharset: Sendable, Equatable {
    /// The user's locale says the terminal shows UTF-8.
    public var localeUTF8: Bool
    /// Curses runs under a UTF-8 `LC_CTYPE` (the user's, else `C.UTF-8` or `en_US.UTF-8`); without
    /// one it can only send ASCII, whatever the user chose.
    public var cursesUTF8: Bool
    /// `--ascii` (true) or `--no-ascii` (false), else the config file's `ascii` if it sets it;
    /// nil: not said, the locale decides.
    public var asciiChoice: Bool?
    /// The locale's name as the environment gives it (`LC_ALL`, else `LC_CTYPE`, else `LANG`;
    /// empty when none is set), for the note.
    public var localeName: String

    public init(localeUTF8: Bool, cursesUTF8: Bool, asciiChoice: Bool?, localeName: String) {
        self.localeUTF8 = localeUTF8
        self.cursesUTF8 = cursesUTF8
        self.asciiChoice = asciiChoice
        self.localeName = localeName
    }

    /// The charset for the `environment`'s locale. `codeset` is what the C library reports for
    /// it (`nl_langinfo(CODESET)` after `setlocale(LC_CTYPE, "")`), nil when the locale it names
    /// is not installed: then its name decides (`en_US.UTF-8` missing on this machine still
    /// means a UTF-8 terminal; `xx_YY` does not).
    public init(codeset: String?, cursesUTF8: Bool, asciiChoice: Bool?, environment: [String: String]) {
        let name = Self.localeName(environment)
        self.init(localeUTF8: Self.namesUTF8(codeset ?? name), cursesUTF8: cursesUTF8, asciiChoice: asciiChoice,
                  localeName: name)
    }

    /// The locale the environment selects for `LC_CTYPE`: the first non-empty of `LC_ALL`,
    /// `LC_CTYPE` and `LANG` (as the C library looks them up); "" when none is set.
    public static func localeName(_ environment: [String: String]) -> String {
        ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { environment[$0] }.first { !$0.isEmpty } ?? ""
    }

    /// Whether a codeset or locale name says UTF-8 (`UTF-8`, `en_US.utf8`, `C.UTF-8`).
    static func namesUTF8(_ s: String) -> Bool {
        let l = s.lowercased()
        return l.contains("utf-8") || l.contains("utf8")
    }

    /// The glyphs the dashboard starts with: the user's choice, else Unicode exactly when the
    /// terminal shows UTF-8 (and curses can send it).
    public var glyphs: Glyphs {
        if let asciiChoice { return asciiChoice ? .ascii : .unicode }
        return localeUTF8 && cursesUTF8 ? .unicode : .ascii
    }

    /// Whether every character sent to the terminal must be ASCII: the locale is not UTF-8 and
    /// the user did not ask for Unicode (`--no-ascii`), or curses has no UTF-8 locale at all.
    public var asciiOnly: Bool {
        !cursesUTF8 || (!localeUTF8 && asciiChoice != false)
    }

    /// What to tell the user when the locale made the choice: nil when the terminal is drawn in
    /// Unicode or the user chose.
    public var note: String? {
        guard asciiOnly else { return nil }
        if !cursesUTF8 && (localeUTF8 || asciiChoice == false) {
            return "no UTF-8 locale is installed (C.UTF-8 or en_US.UTF-8): drawing with ASCII only"
        }
        guard asciiChoice == nil else { return nil }
        let name = localeName.isEmpty ? "unset (C)" : localeName
        return "the locale (\(name)) is not UTF-8: drawing with ASCII only; --no-ascii if the terminal shows UTF-8"
    }

    /// `ch` as one ASCII character, for a terminal that shows nothing else: ASCII stays;
    /// box drawing becomes `-`, `|` or `+`, blocks `#`, braille dots `.`; arrows, dashes,
    /// quotes and the dashboard's notation (Λ, Σ, ±, ...) their nearest ASCII character; a
    /// letter with marks (é, ĝ) its base letter, a superscript or full-width form (², Ａ) its
    /// plain one; anything else `?`.
    public static func asciiFallback(_ ch: Character) -> Character {
        if ch.isASCII { return ch }
        guard let first = ch.unicodeScalars.first else { return "?" }
        switch first.value {
        case 0x2500...0x257F: return boxFallback(first.value)
        case 0x2580...0x259F: return "#"
        case 0x2800: return " "
        case 0x2801...0x28FF: return "."
        default: break
        }
        if let mapped = fallbacks[ch] { return mapped }
        if let base = String(ch).decomposedStringWithCompatibilityMapping.unicodeScalars.first,
           base.isASCII, base.value > 0x20, base.value < 0x7F {
            return Character(base)
        }
        return "?"
    }

    /// A box-drawing character: its horizontal lines `-`, vertical ones `|`, corners and
    /// crossings `+`.
    private static func boxFallback(_ v: UInt32) -> Character {
        switch v {
        case 0x2500, 0x2501, 0x2504, 0x2505, 0x2508, 0x2509, 0x254C, 0x254D, 0x2550, 0x2574, 0x2576, 0x2578, 0x257A,
             0x257C, 0x257E:
            return "-"
        case 0x2502, 0x2503, 0x2506, 0x2507, 0x250A, 0x250B, 0x254E, 0x254F, 0x2551, 0x2575, 0x2577, 0x2579, 0x257B,
             0x257D, 0x257F:
            return "|"
        default:
            return "+"
        }
    }

    private static let fallbacks: [Character: Character] = [
        "←": "<", "→": ">", "↑": "^", "↓": "v", "›": ">", "‹": "<", "»": ">", "«": "<",
        "…": "~", "–": "-", "—": "-", "−": "-", "‘": "'", "’": "'", "“": "\"", "”": "\"",
        "·": ".", "•": "*", "●": "*", "○": "o", "■": "#", "□": "#", "▲": "^", "▼": "v", "★": "*",
        "×": "x", "±": "~", "≈": "~", "≤": "<", "≥": ">", "≠": "#", "∞": "~", "‖": "|", "°": "o", "⚠": "!",
        "✓": "v", "✗": "x", "\u{A0}": " ",
        "Λ": "L", "λ": "l", "Σ": "S", "σ": "s", "Δ": "D", "δ": "d", "α": "a", "β": "b", "γ": "g", "Γ": "G",
        "ε": "e", "θ": "t", "μ": "u", "π": "p", "Π": "P", "ρ": "r", "τ": "t", "φ": "f", "Φ": "F", "χ": "x",
        "ψ": "y", "ω": "w", "Ω": "O",
    ]
}

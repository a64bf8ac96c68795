/// Text made safe to print on a terminal: the one escaping of every line cpo-tui prints that
/// can hold text it did not write itself (data rows, model generations, file names, values
/// quoted in error messages). A terminal acts on control characters (ESC starts a sequence
/// that can clear the screen, move the cursor or retitle the window; a carriage return
/// overwrites the line) and reorders text around the bidirectional controls, so these are shown
/// as visible escapes instead; everything else is printed as it is.
public enum TerminalText {
    /// The bidirectional formatting characters: U+061C ARABIC LETTER MARK, U+200E/U+200F (LRM,
    /// RLM), U+202A...U+202E (embeddings and overrides) and U+2066...U+2069 (isolates). They
    /// draw nothing and reorder the characters around them, so text holding them can show
    /// something other than it says.
    public static func isBidiControl(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// Whether `u` is a C0 control (U+0000...U+001F), DEL (U+007F) or a C1 control
    /// (U+0080...U+009F): the characters a terminal acts on rather than draws.
    public static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7F...0x9F).contains(u.value)
    }

    /// `s` with every control character and bidirectional control made visible: C0 controls
    /// in caret notation (ESC as `^[`, NUL as `^@`, CR as `^M`), DEL as `^?`, C1 controls and the
    /// bidirectional controls as `<U+202E>`. Tab stays, and so does newline when
    /// `keepingNewlines` (a multi-line message); otherwise it becomes `^J`.
    public static func escaped(_ s: String, keepingNewlines: Bool = true) -> String {
        guard s.unicodeScalars.contains(where: { needsEscape($0, keepingNewlines: keepingNewlines) }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for u in s.unicodeScalars {
            guard needsEscape(u, keepingNewlines: keepingNewlines) else {
                out.unicodeScalars.append(u)
                continue
            }
            switch u.value {
            case 0x00..<0x20: out += "^" + String(UnicodeScalar(UInt8(u.value + 0x40)))
            case 0x7F: out += "^?"
            default:
                let hex = String(u.value, radix: 16, uppercase: true)
                out += "<U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + ">"
            }
        }
        return out
    }

    private static func needsEscape(_ u: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
        if u == "\t" || (u == "\n" && keepingNewlines) { return false }
        return isControl(u) || isBidiControl(u)
    }
}

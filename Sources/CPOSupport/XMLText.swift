/// Text made safe for XML character data and attribute values: the one escaping of the SVG and
/// XHTML files cpo-tui writes (the screen export, report.html), so that they parse with any XML
/// parser whatever the texts hold (model generations can contain anything).
public enum XMLText {
    /// What becomes of the characters XML 1.0 cannot hold (C0 controls other than tab, newline
    /// and carriage return; U+FFFE, U+FFFF).
    public enum Forbidden: Sendable {
        /// Left out (a page's text).
        case dropped
        /// A space for a control, U+FFFD for U+FFFE/U+FFFF, and tab, newline, carriage return and
        /// the C1 controls as spaces too: one character stays one character (a screen's cells).
        case replaced
    }

    /// `s` with `&`, `<`, `>`, `"` and `'` as character references and the forbidden
    /// characters handled as `forbidden` says.
    public static func escaped(_ s: String, forbidden: Forbidden) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                let v = u.value
                let control = v < 0x20 && u != "\t" && u != "\n" && u != "\r"
                switch forbidden {
                case .dropped:
                    if control || v == 0xFFFE || v == 0xFFFF { continue }
                    out.unicodeScalars.append(u)
                case .replaced:
                    if v < 0x20 || (0x7F..<0xA0).contains(v) {
                        out += " "
                    } else if v == 0xFFFE || v == 0xFFFF {
                        out += "\u{FFFD}"
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
        }
        return out
    }
}

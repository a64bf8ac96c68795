import Foundation

/// A JSON value with its keys in the order written, rendered the same way every time: the
/// export's files are byte-identical for the same seed, and readable (keys in a fixed, meaningful
/// order; `", "` and `": "` between items, as Python's `json.dumps` writes by default).
///
/// Numbers are Swift's shortest representation that reads back to the same Double
/// (`53.0`, `1e-05`), so every value survives the round trip to the bit; a value that is not
/// finite is written `null`.
public indirect enum JSONText: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSONText])
    case object([(String, JSONText)])
    /// JSON text written elsewhere, copied as it is.
    case raw(String)

    public static func == (a: JSONText, b: JSONText) -> Bool { a.rendered() == b.rendered() }

    /// A Float as the decimal it was written as (2e-5, not 1.9999999494757503e-05).
    public static func float(_ x: Float) -> JSONText { .number(Double("\(x)") ?? Double(x)) }

    public static func optional(_ x: Double?) -> JSONText { x.map(JSONText.number) ?? .null }

    /// One line (no newline), or with `pretty` an indented block.
    public func rendered(pretty: Bool = false) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    /// `x` as a JSON number: Swift's shortest round-trip form, `null` when not finite.
    public static func numberText(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    func write(to out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let x): out += Self.numberText(x)
        case .string(let s): Self.quote(s, to: &out)
        case .raw(let r): out += r
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            // Arrays of plain values stay on one line even when pretty.
            let flat = !pretty || items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
            out += "["
            for (k, v) in items.enumerated() {
                if k > 0 { out += flat ? ", " : "," }
                if !flat { newline(&out, indent + 1) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if !flat { newline(&out, indent) }
            out += "]"
        case .object(let fields):
            guard !fields.isEmpty else { out += "{}"; return }
            out += "{"
            for (k, (key, v)) in fields.enumerated() {
                if k > 0 { out += pretty ? "," : ", " }
                if pretty { newline(&out, indent + 1) }
                Self.quote(key, to: &out)
                out += ": "
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out += "}"
        }
    }

    private func newline(_ out: inout String, _ indent: Int) {
        out += "\n" + String(repeating: "  ", count: indent)
    }

    /// `s` as a JSON string: quotes, backslashes and control characters escaped; the rest as
    /// UTF-8.
    public static func quote(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    /// JSON Lines: each value on its own line, every line ending in "\n".
    public static func lines(_ values: [JSONText]) -> [UInt8] {
        var out = ""
        for v in values {
            v.write(to: &out, pretty: false, indent: 0)
            out += "\n"
        }
        return Array(out.utf8)
    }
}

/// The read-back commands' `--json` output (`estimate`, `sensitivity`): a Foundation object
/// pretty-printed with sorted keys and unescaped slashes (file paths stay readable), one
/// newline at the end.
enum ReadBackJSON {
    static func text(_ object: [String: Any]) -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return "{}\n" }
        return String(decoding: d, as: UTF8.self) + "\n"
    }
}

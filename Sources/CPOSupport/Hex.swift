/// Bytes as upper-case hexadecimal, the one way messages show raw bytes ("FF 22", "\x1B").
public enum Hex {
    private static let digits = Array("0123456789ABCDEF")

    /// Two digits: `0x0A` -> "0A".
    public static func byte(_ b: UInt8) -> String {
        String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }

    /// Each byte as two digits, separated: `[0xC3, 0x28]` -> "C3 28".
    public static func bytes(_ bytes: some Sequence<UInt8>, separator: String = " ") -> String {
        bytes.map(byte).joined(separator: separator)
    }

    /// Printable ASCII kept and every other byte as `\xNN`, so that text from a damaged file
    /// never puts control characters on the user's terminal.
    public static func printable(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { (0x20...0x7E).contains($0) ? String(UnicodeScalar($0)) : "\\x" + byte($0) }.joined()
    }
}

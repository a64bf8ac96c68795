import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Data whose texts hold escape sequences, control characters, bidirectional controls,
/// combining marks and wide characters, through the real binary: nothing it prints to the
/// terminal holds a raw control character, and the dashboard's data view keeps its layout.
enum HostileData {
    static let pieces = ["\u{1B}[2J", "line\nbreak", "\u{1B}]0;owned\u{07}", "\u{1B}[31mred", "\u{0}", "\u{7F}", "\u{9B}2J", "\r",
                         "\u{202E}desrever", "\u{2066}iso\u{2069}", "e" + String(repeating: "\u{301}", count: 50),
                         "日本語テキスト", "😀", "👨‍👩‍👧‍👦", "🇩🇪", "\u{200B}", "\u{200D}", "\u{FEFF}"]
    static let words = ["the", "river", "needs", "you", "bring", "gloves", "today", "neighbors", "clean", "kids"]

    /// A CSV of `rows` rows (text, outcome): words with a hostile piece in each text, the
    /// first text the longest (`longBytes`).
    static func csv(rows: Int, longBytes: Int) -> String {
        var out = "text,outcome\n"
        for i in 0..<rows {
            var t = ""
            var k = i
            let target = i == 0 ? longBytes : 40 + i % 40
            while t.utf8.count < target {
                k = (k &* 1_103_515_245 &+ 12_345) & 0x7FFF_FFFF
                t += (k % 3 == 0 ? pieces[k % pieces.count] : words[k % words.count]) + " "
            }
            out += "\"" + t.replacingOccurrences(of: "\"", with: "\"\"") + "\",\(Double(i % 7) + Double(t.count % 5) / 2)\n"
        }
        return out
    }

    /// A control character (other than tab and newline) or a bidirectional control in `s`.
    static func firstControl(_ s: String) -> Unicode.Scalar? {
        s.unicodeScalars.first { u in
            (u.value < 0x20 && u != "\t" && u != "\n") || (0x7F...0x9F).contains(u.value)
                || [0x061C, 0x200E, 0x200F].contains(u.value) || (0x202A...0x202E).contains(u.value) || (0x2066...0x2069).contains(u.value)
        }
    }
}

@Suite("hostile text through the binary", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"), .serialized)
struct HostileTextCLITests {
    /// `data check`, a headless run printing samples, and an error quoting a column name print
    /// no control character.
    @Test func dataCheckRunAndErrorsPrintNoControlCharacter() throws {
        let path = try CLI.temp("hostile.csv", HostileData.csv(rows: 60, longBytes: 4000))
        let check = try CLI.run(["data", "check", "--data", path])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(HostileData.firstControl(check.stdout + check.stderr) == nil, "\(check.stdout)\(check.stderr)")

        // A headless run printing samples of models trained on these texts.
        let run = try CLI.run(["run", "--data", path, "--no-save", "--show-samples"] + TmuxTests.tiny.split(separator: " ").map(String.init))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("sample"), "\(run.stdout)")
        #expect(HostileData.firstControl(run.stdout + run.stderr) == nil, "\(run.stdout)\(run.stderr)")
        // A sample's line breaks are shown (^J), not printed: every line is one of the run's.
        let strays = run.stdout.split(separator: "\n").filter { line in
            !["[seed", "seed ", "    ", "done"].contains { line.hasPrefix($0) }
        }
        #expect(strays.isEmpty, "lines that belong to no message: \(strays)")

        let bad = try CLI.temp("hostile-header.csv", "te\u{1B}[2Jxt,outcome\nhello,1\n")
        let refused = try CLI.run(["data", "check", "--data", bad, "--text", "te\u{1B}[2Jxt2"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("^[[2J"), "the escape is shown, escaped: \(refused.stderr)")
        #expect(HostileData.firstControl(refused.stdout + refused.stderr) == nil, "\(refused.stderr)")
    }

    /// The dashboard's data view lists the hostile rows: every line of the captured screen is
    /// as wide as the pane or shorter, the boxes' lines end in their border at the last column,
    /// and neither an escape nor a wide or bidirectional character reached the screen.
    @Test(.enabled(if: Tmux.path != nil, "tmux is not installed"))
    func theDataViewShowsThemInItsLayout() throws {
        let name = "cpo-tui-hostile-\(getpid())"
        let path = try CLI.temp("hostile-dashboard.csv", HostileData.csv(rows: 60, longBytes: 256 << 10))
        defer { _ = try? Tmux.run(["kill-session", "-t", name]) }
        try TmuxTests.start(name, flags: TmuxTests.tiny + " --no-save --data '\(path)'")
        let (framed, first) = Tmux.waitFor(name, seconds: 30) { $0.contains("Methods") && $0.contains("cpo-tui") }
        #expect(framed, "no first frame:\n\(first)")
        try Tmux.run(["send-keys", "-t", name, "3"])
        let (listed, screen) = Tmux.waitFor(name, seconds: 60) { $0.contains("Training rows") && $0.contains("?") }
        #expect(listed, "no training rows:\n\(screen)")
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(!screen.contains("\u{1B}"))
        #expect(HostileData.firstControl(screen) == nil, "\(screen)")
        #expect(!screen.contains("日") && !screen.contains("😀") && !screen.contains("\u{202E}"), "\(screen)")
        for (y, line) in lines.enumerated() {
            #expect(line.count <= 120, "line \(y) is \(line.count) wide:\n\(screen)")
            if let first = line.first, "│╭╰".contains(first) {
                #expect(line.count == 120 && "│╮╯".contains(line.last ?? " "), "line \(y) does not end in its border:\n\(screen)")
            }
        }
        try Tmux.run(["send-keys", "-t", name, "q"])
        TmuxTests.expectRestored(name, status: "0", "q after hostile rows")
    }
}

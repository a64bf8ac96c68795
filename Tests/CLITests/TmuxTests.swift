import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Drives the real binary in a detached tmux pane (no TTY needed): start, first frame, step,
/// export the screen, scroll and filter a list, click with the mouse, switch view, resize,
/// quit, and the terminal left sane.
enum Tmux {
    static let path: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A private server for this test process, so that no user's tmux (or its config) is touched;
    /// it exits with its last session. (A test may use a server of its own: `socket`.)
    static let socket = "cpo-tui-test-\(getpid())"

    @discardableResult
    static func run(_ args: [String], socket: String = Tmux.socket) throws -> String {
        let r = try Spawn.run(path!, ["-L", socket, "-f", "/dev/null"] + args, timeout: 30)
        return r.stdout
    }

    static func capture(_ session: String, socket: String = Tmux.socket) -> String {
        (try? run(["capture-pane", "-p", "-t", session], socket: socket)) ?? ""
    }

    /// Polls the pane until `predicate` holds; returns the last capture either way.
    static func waitFor(_ session: String, socket: String = Tmux.socket, seconds: Double,
                        _ predicate: (String) -> Bool) -> (Bool, String) {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = capture(session, socket: socket)
            if predicate(last) { return (true, last) }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return (false, last)
    }
}

@Suite("the dashboard in a real terminal (tmux)",
       .enabled(if: Tmux.path != nil, "tmux is not installed"),
       .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"),
       .serialized)
struct TmuxTests {
    static let tiny = "--rows 40 --eval-rows 20 --epochs 1 --methods FT,CPO,DR-CPO --d-model 32 --layers 1 --heads 2 --vocab 300 "
        + "--context 48 --ft-epochs 1 --eval-samples 10 --win-prompts 10 --f0-ratio 1 --folds 2 --batch-size 8"

    /// Starts the binary in a new 120x40 tmux session (in a UTF-8 locale unless `environment`
    /// says otherwise); when it ends the pane prints its exit status and whether the terminal
    /// is back in canonical mode with echo.
    static func start(_ name: String, flags: String, environment: String = "", socket: String = Tmux.socket) throws {
        let log = NSTemporaryDirectory() + "\(name).log"
        let command = "cd '\(CLI.packageRoot.path)' && LC_ALL=C.UTF-8 \(environment) SWIFT_BACKTRACE=interactive=no,color=no '\(CLI.binary!.path)' \(flags) --log '\(log)'; "
            + "echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -E 'icanon|echo|-icanon|-echo' | tr '\\n' ' '; echo STTY; sleep 30"
        try Tmux.run(["new-session", "-d", "-s", name, "-x", "120", "-y", "40", command], socket: socket)
    }

    /// The end screen shows the exit status and a sane terminal.
    static func expectRestored(_ name: String, status: String, _ comment: String, socket: String = Tmux.socket) {
        let (ended, end) = Tmux.waitFor(name, socket: socket, seconds: 30) { $0.contains("STTY") }
        #expect(ended && end.contains("EXIT=\(status)"), "\(comment): \(end)")
        #expect(end.contains("icanon echo") || end.contains("echo icanon"), "\(comment): terminal not restored:\n\(end)")
        #expect(!end.contains("-icanon") && !end.contains("-echo"), "\(comment): \(end)")
    }

    /// Ctrl-C, SIGTERM and a crash (a Swift trap, via a test hook) also give the terminal back.
    @Test func ctrlCSigtermAndACrashRestoreTheTerminal() throws {
        let term = "cpo-tui-term-\(getpid())", crash = "cpo-tui-crash-\(getpid())", ctrlC = "cpo-tui-ctrlc-\(getpid())"
        defer { for s in [term, crash, ctrlC] { _ = try? Tmux.run(["kill-session", "-t", s]) } }
        // Ctrl-C typed at the dashboard (a SIGINT from the terminal, not a key).
        try Self.start(ctrlC, flags: Self.tiny + " --no-save")
        let (up, upScreen) = Tmux.waitFor(ctrlC, seconds: 20) { $0.contains("Methods") && $0.contains("cpo-tui") }
        #expect(up, "no first frame:\n\(upScreen)")
        try Tmux.run(["send-keys", "-t", ctrlC, "C-c"])
        Self.expectRestored(ctrlC, status: "0", "Ctrl-C")

        try Self.start(term, flags: Self.tiny + " --no-save")
        let (framed, first) = Tmux.waitFor(term, seconds: 20) { $0.contains("Methods") && $0.contains("cpo-tui") }
        #expect(framed, "no first frame:\n\(first)")
        let pane = try Tmux.run(["list-panes", "-t", term, "-F", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        // The pane's shell runs the program as its child.
        let shell = try #require(Int32(pane))
        let child = try Spawn.run("/usr/bin/pgrep", ["-P", "\(shell)", "-x", "cpo-tui"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try #require(Int32(child.split(separator: "\n").first ?? ""), "cpo-tui not found under the pane's shell \(shell)")
        kill(pid, SIGTERM)
        Self.expectRestored(term, status: "0", "SIGTERM")

        try Self.start(crash, flags: Self.tiny + " --no-save", environment: "CPO_TEST_CRASH_AFTER_FRAMES=3")
        let (ended, end) = Tmux.waitFor(crash, seconds: 30) { $0.contains("STTY") }
        #expect(ended && !end.contains("EXIT=0"), "the crash hook did not crash: \(end)")
        Self.expectRestored(crash, status: "132", "crash (SIGILL from a Swift trap)")
    }

    @Test func startStepSwitchResizeQuit() throws {
        let name = "cpo-tui-test-\(getpid())"
        let runDir = NSTemporaryDirectory() + "\(name)-run"
        try? FileManager.default.removeItem(atPath: runDir)
        defer { try? FileManager.default.removeItem(atPath: runDir) }
        try Self.start(name, flags: Self.tiny + " --run-dir '\(runDir)'")
        defer { _ = try? Tmux.run(["kill-session", "-t", name]) }

        // The first frame, then the preparation finishing.
        let (framed, first) = Tmux.waitFor(name, seconds: 20) { $0.contains("Methods") && $0.contains("cpo-tui") }
        #expect(framed, "no first frame:\n\(first)")
        let (ready, readyScreen) = Tmux.waitFor(name, seconds: 60) { $0.contains("ready") }
        #expect(ready, "never ready:\n\(readyScreen)")
        #expect(readyScreen.contains("╭"), "no box drawing (UTF-8 locale?):\n\(readyScreen)")

        // Step one epoch for every method: CPO's epoch counter moves to 1. The key is re-sent
        // if nothing happened: under a loaded CI machine the first key after "ready" was seen
        // ignored twice in about ten runs (not understood yet; see the issue notes).
        let epochMoved = try NSRegularExpression(pattern: "CPO +1 ")
        var stepped = false, afterStep = ""
        for _ in 0..<4 where !stepped {
            try Tmux.run(["send-keys", "-t", name, "n"])
            (stepped, afterStep) = Tmux.waitFor(name, seconds: 15) { s in
                epochMoved.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil || s.contains("training")
            }
        }
        (stepped, afterStep) = Tmux.waitFor(name, seconds: 60) { s in
            epochMoved.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        #expect(stepped, "epoch did not move:\n\(afterStep)")

        // The run was saved after the epoch; w saves again on request.
        let (saved, savedScreen) = Tmux.waitFor(name, seconds: 20) { $0.contains("saved ") }
        #expect(saved, "no save shown:\n\(savedScreen)")
        try? FileManager.default.removeItem(atPath: runDir + "/checkpoint-seed0.cpo")
        try Tmux.run(["send-keys", "-t", name, "w"])
        let (resaved, _) = Tmux.waitFor(name, seconds: 20) { _ in FileManager.default.fileExists(atPath: runDir + "/checkpoint-seed0.cpo") }
        #expect(resaved, "w did not save the run")

        // x writes the screen as text and SVG into the run directory.
        try Tmux.run(["send-keys", "-t", name, "x"])
        let screenFiles = { (try? FileManager.default.contentsOfDirectory(atPath: runDir))?.filter { $0.hasPrefix("screen-") } ?? [] }
        let (exported, exportScreen) = Tmux.waitFor(name, seconds: 10) { s in
            s.contains("screen written") && screenFiles().contains { $0.hasSuffix(".svg") } && screenFiles().contains { $0.hasSuffix(".txt") }
        }
        #expect(exported, "x did not export the screen: \(screenFiles())\n\(exportScreen)")

        // The data view's training rows scroll a page, then a filter narrows them.
        try Tmux.run(["send-keys", "-t", name, "3"])
        let firstPage = try NSRegularExpression(pattern: "Training rows 1-[0-9]+ of [0-9]+")
        let (rows, rowsScreen) = Tmux.waitFor(name, seconds: 10) { s in
            firstPage.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        #expect(rows, "the rows list does not say which rows it shows:\n\(rowsScreen)")
        try Tmux.run(["send-keys", "-t", name, "NPage"])
        let laterPage = try NSRegularExpression(pattern: "Training rows ([2-9]|[1-9][0-9]+)-[0-9]+ of [0-9]+")
        let (scrolled, scrolledScreen) = Tmux.waitFor(name, seconds: 10) { s in
            laterPage.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        #expect(scrolled, "PgDn did not scroll the rows:\n\(scrolledScreen)")
        try Tmux.run(["send-keys", "-t", name, "/"])
        try Tmux.run(["send-keys", "-t", name, "-l", "the"])
        try Tmux.run(["send-keys", "-t", name, "Enter"])
        let (filtered, filteredScreen) = Tmux.waitFor(name, seconds: 10) { $0.contains("match 'the'") }
        #expect(filtered, "/ did not filter the rows:\n\(filteredScreen)")

        // The mouse: M turns it on, and a click on DR-CPO's row in the Methods panel selects it
        // (the terminal reports the click as ESC [ M, then the button and the 1-based cell, each + 32).
        try Tmux.run(["send-keys", "-t", name, "1"])
        try Tmux.run(["send-keys", "-t", name, "M"])
        let (mouseOn, dashboardScreen) = Tmux.waitFor(name, seconds: 10) { $0.contains("mouse on") && $0.contains("Methods") }
        #expect(mouseOn, "M did not turn the mouse on:\n\(dashboardScreen)")
        let lines = dashboardScreen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let row = lines.indices.first(where: { lines[$0].hasPrefix("│DR-CPO") }) {
            func report(_ button: Int) -> String {
                "\u{1b}[M" + String(UnicodeScalar(UInt8(32 + button))) + String(UnicodeScalar(UInt8(32 + 3))) + String(UnicodeScalar(UInt8(32 + row + 1)))
            }
            try Tmux.run(["send-keys", "-t", name, "-l", report(0) + report(3)])
            let (clicked, clickedScreen) = Tmux.waitFor(name, seconds: 10) { $0.split(separator: "\n").first?.contains("(DR-CPO)") == true }
            #expect(clicked, "a click on DR-CPO's row did not select it:\n\(clickedScreen)")
        } else {
            Issue.record("no DR-CPO row in the Methods panel:\n\(dashboardScreen)")
        }

        // > steps the Confounding panel's Λ from 1.5 to 1.75 (its title and the status say so).
        #expect(dashboardScreen.contains("at Λ = 1.50"), "no sensitivity block at Λ = 1.5:\n\(dashboardScreen)")
        try Tmux.run(["send-keys", "-t", name, "-l", ">"])
        let (lambdaStepped, lambdaScreen) = Tmux.waitFor(name, seconds: 10) { $0.contains("at Λ = 1.75") && $0.contains("bounds at Λ = 1.75") }
        #expect(lambdaStepped, "> did not step Λ:\n\(lambdaScreen)")

        // The compare view, then a resize that redraws it.
        try Tmux.run(["send-keys", "-t", name, "2"])
        let (compared, compareScreen) = Tmux.waitFor(name, seconds: 10) { $0.contains("Compare") }
        #expect(compared, "\(compareScreen)")
        try Tmux.run(["resize-window", "-t", name, "-x", "90", "-y", "28"])
        let (resized, resizedScreen) = Tmux.waitFor(name, seconds: 10) { s in
            s.contains("Compare") && s.split(separator: "\n").allSatisfy { $0.count <= 90 }
        }
        #expect(resized, "\(resizedScreen)")
        try Tmux.run(["resize-window", "-t", name, "-x", "60", "-y", "20"])
        let (small, smallScreen) = Tmux.waitFor(name, seconds: 10) { $0.contains("too small") }
        #expect(small, "\(smallScreen)")

        // Quit: exit status 0 and the terminal back in canonical mode with echo.
        try Tmux.run(["send-keys", "-t", name, "q"])
        Self.expectRestored(name, status: "0", "q")
    }
}

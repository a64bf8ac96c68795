import Foundation
import Testing

/// Drives the real binary in a detached tmux pane (no TTY needed): start, first frame, step,
/// switch view, resize, quit, and the terminal left sane.
enum Tmux {
    static let path: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A private server for this test process, so that no user's tmux (or its config) is touched
    /// and `kill-server` at the end leaves nothing running.
    static let socket = "cpo-tui-test-\(getpid())"

    @discardableResult
    static func run(_ args: [String]) throws -> String {
        let r = try Spawn.run(path!, ["-L", socket, "-f", "/dev/null"] + args, timeout: 30)
        return r.stdout
    }

    static func capture(_ session: String) -> String {
        (try? run(["capture-pane", "-p", "-t", session])) ?? ""
    }

    /// Polls the pane until `predicate` holds; returns the last capture either way.
    static func waitFor(_ session: String, seconds: Double, _ predicate: (String) -> Bool) -> (Bool, String) {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = capture(session)
            if predicate(last) { return (true, last) }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return (false, last)
    }
}

@Suite("the dashboard in a real terminal (tmux)",
       .enabled(if: Tmux.path != nil, "tmux is not installed"),
       .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct TmuxTests {
    @Test func startStepSwitchResizeQuit() throws {
        let name = "cpo-tui-test-\(getpid())"
        let log = NSTemporaryDirectory() + "\(name).log"
        let tiny = "--rows 40 --eval-rows 20 --epochs 1 --methods FT,CPO,DR-CPO --d-model 32 --layers 1 --heads 2 --vocab 300 "
            + "--context 48 --ft-epochs 1 --eval-samples 10 --win-prompts 10 --f0-ratio 1 --folds 2 --batch-size 8"
        let command = "cd '\(CLI.packageRoot.path)' && SWIFT_BACKTRACE=interactive=no '\(CLI.binary!.path)' \(tiny) --log '\(log)'; "
            + "echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -E 'icanon|echo|-icanon|-echo' | tr '\\n' ' '; echo STTY; sleep 30"
        try Tmux.run(["new-session", "-d", "-s", name, "-x", "120", "-y", "40", command])
        defer { _ = try? Tmux.run(["kill-server"]) }

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
        let (quit, end) = Tmux.waitFor(name, seconds: 20) { $0.contains("STTY") }
        #expect(quit && end.contains("EXIT=0"), "\(end)")
        #expect(end.contains("icanon echo") || end.contains("echo icanon"), "terminal not restored:\n\(end)")
        #expect(!end.contains("-icanon"))
    }
}

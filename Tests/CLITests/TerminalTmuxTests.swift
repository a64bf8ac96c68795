import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The dashboard in a hostile terminal, each case in a tmux server of its own: a locale that
/// is not UTF-8, an unknown or missing TERM, the terminal closed under it (SIGHUP), a storm of
/// resizes down to 1x1, and Ctrl-Z then `fg`.
@Suite("the dashboard in a hostile terminal (tmux)",
       .enabled(if: Tmux.path != nil, "tmux is not installed"),
       .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"),
       .serialized)
struct TerminalTmuxTests {
    /// A private tmux server (its own socket) for one test; `stop()` ends it.
    struct Server {
        let socket: String
        init(_ test: String) { socket = "cpo-tui-\(test)-\(getpid())" }

        @discardableResult
        func run(_ args: [String]) throws -> String { try Tmux.run(args, socket: socket) }
        func waitFor(_ session: String, seconds: Double, _ predicate: (String) -> Bool) -> (Bool, String) {
            Tmux.waitFor(session, socket: socket, seconds: seconds, predicate)
        }
        func start(_ session: String, flags: String, environment: String = "") throws {
            try TmuxTests.start(session, flags: flags, environment: environment, socket: socket)
        }
        /// q, then the exit status 0 and a sane terminal.
        func quit(_ session: String, _ comment: String) throws {
            try run(["send-keys", "-t", session, "q"])
            TmuxTests.expectRestored(session, status: "0", comment, socket: socket)
        }
        func stop() { _ = try? run(["kill-server"]) }

        /// The pid of the cpo-tui the pane of `session` runs (a child, grandchild, ... of the
        /// pane's shell).
        func binaryPID(_ session: String) throws -> pid_t {
            let pane = try run(["list-panes", "-t", session, "-F", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
            var frontier = [try #require(Int32(pane), "no pane pid: \(pane)")]
            for _ in 0..<4 {
                var next: [pid_t] = []
                for parent in frontier {
                    let out = try Spawn.run("/usr/bin/pgrep", ["-P", "\(parent)"]).stdout
                    for pid in out.split(separator: "\n").compactMap({ Int32($0) }) {
                        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
                        if comm.trimmingCharacters(in: .whitespacesAndNewlines) == "cpo-tui" { return pid }
                        next.append(pid)
                    }
                }
                frontier = next
            }
            throw Spawn.Failure(description: "no cpo-tui under the pane of \(session)")
        }
    }

    static let tiny = TmuxTests.tiny
    /// Never the user's config file.
    static let noConfig = "XDG_CONFIG_HOME=/nonexistent CPO_TUI_CONFIG="

    static func log(_ session: String) -> String {
        (try? String(contentsOfFile: NSTemporaryDirectory() + "\(session).log", encoding: .utf8)) ?? ""
    }

    /// The process state letter from /proc (R, S, T for stopped, Z ...); nil once it is gone.
    static func state(_ pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].first { $0 != " " }
    }

    /// The dashboard's first frame: the Methods panel and the key hints (the header may give
    /// its start to a status note).
    static func isUp(_ screen: String) -> Bool { screen.contains("Methods") && screen.contains("q quit") }

    /// The whole dashboard in Unicode: every panel of the first view and the key hints.
    static func isWhole(_ screen: String) -> Bool {
        ["╭─ Methods", "╭─ Loss", "╭─ Confounding", "╭─ Generations", "q quit"].allSatisfy(screen.contains)
    }

    /// LANG=C, and a locale that does not exist: ASCII only, the layout intact, a note in the
    /// log; --no-ascii still draws Unicode when the user says the terminal shows it.
    @Test func aLocaleThatIsNotUTF8DrawsASCII() throws {
        let server = Server("locale")
        defer { server.stop() }
        let c = "cpo-tui-lang-c-\(getpid())"
        try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "\(c).log")
        try server.start(c, flags: Self.tiny + " --no-save", environment: "\(Self.noConfig) LANG=C LC_ALL=C")
        let (ready, screen) = server.waitFor(c, seconds: 60) { Self.isUp($0) && $0.contains("ready") }
        #expect(ready, "never ready:\n\(screen)")
        let nonASCII = screen.unicodeScalars.filter { !$0.isASCII }
        #expect(nonASCII.isEmpty, "non-ASCII on a LANG=C terminal: \(String(String.UnicodeScalarView(nonASCII)))\n\(screen)")
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count >= 39 && lines.allSatisfy { $0.count <= 120 }, "\(screen)")
        for panel in ["+- Methods", "+- Loss", "+- Confounding", "+- Generations"] {
            #expect(screen.contains(panel), "no \(panel) panel:\n\(screen)")
        }
        #expect(Self.log(c).contains("the locale (C) is not UTF-8"), "no note in the log: \(Self.log(c))")
        try server.quit(c, "q under LANG=C")

        let missing = "cpo-tui-lang-missing-\(getpid())"
        try server.start(missing, flags: Self.tiny + " --no-save", environment: "\(Self.noConfig) LC_ALL=xx_XX")
        let (up, missingScreen) = server.waitFor(missing, seconds: 30) { Self.isUp($0) }
        #expect(up && missingScreen.unicodeScalars.allSatisfy(\.isASCII) && missingScreen.contains("+- Methods"), "\(missingScreen)")
        try server.quit(missing, "q under a locale that does not exist")

        let chosen = "cpo-tui-lang-chosen-\(getpid())"
        try server.start(chosen, flags: Self.tiny + " --no-save --no-ascii", environment: "\(Self.noConfig) LANG=C LC_ALL=C")
        let (unicode, chosenScreen) = server.waitFor(chosen, seconds: 30) { Self.isUp($0) && $0.contains("╭─ Methods") }
        #expect(unicode, "--no-ascii under LANG=C drew no box drawing:\n\(chosenScreen)")
        try server.quit(chosen, "q with --no-ascii")
    }

    /// A TERM the terminfo database lacks is drawn as xterm-256color (said in the log); TERM
    /// unset or dumb runs headless with a note saying what to set.
    @Test func anUnknownTERMFallsBack() throws {
        let server = Server("term")
        defer { server.stop() }
        let unknown = "cpo-tui-term-unknown-\(getpid())"
        try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "\(unknown).log")
        try server.start(unknown, flags: Self.tiny + " --no-save", environment: "\(Self.noConfig) TERM=xterm-nonexistent")
        let (up, screen) = server.waitFor(unknown, seconds: 30) { Self.isUp($0) && $0.contains("╭") }
        #expect(up, "no dashboard under TERM=xterm-nonexistent:\n\(screen)")
        #expect(Self.log(unknown).contains("TERM=xterm-nonexistent is not in the terminfo database: drawing as xterm-256color"),
                "no note in the log: \(Self.log(unknown))")
        try server.quit(unknown, "q under an unknown TERM")

        for (term, says) in [("dumb", "TERM=dumb cannot move the cursor"), ("", "TERM is not set")] {
            let name = "cpo-tui-term-\(term.isEmpty ? "unset" : term)-\(getpid())"
            try server.start(name, flags: Self.tiny + " --no-save", environment: "\(Self.noConfig) TERM=\(term)")
            // The note as one line (the pane wraps it).
            let unwrapped = { (s: String) in s.replacingOccurrences(of: "\n", with: "") }
            let (noted, notedScreen) = server.waitFor(name, seconds: 30) { unwrapped($0).contains(says) && $0.contains("running headless") }
            #expect(noted, "TERM=\(term):\n\(notedScreen)")
            #expect(unwrapped(notedScreen).contains("TERM=xterm-256color"), "the note does not say what to set:\n\(notedScreen)")
            try server.run(["send-keys", "-t", name, "C-c"])
            let (ended, end) = server.waitFor(name, seconds: 60) { $0.contains("STTY") }
            // 0: the run had finished; 130: interrupted (as `cpo-tui run`); never a crash.
            #expect(ended && (end.contains("EXIT=0") || end.contains("EXIT=130")), "the headless run did not end cleanly:\n\(end)")
        }
    }

    /// The terminal closed under a dashboard that trains and saves (tmux kill-session hangs up
    /// its pty): the process exits 0 within seconds, writes a note in its log, and the run
    /// directory loads.
    @Test func aClosedTerminalStopsCleanlyAndKeepsTheRun() throws {
        let server = Server("hangup")
        defer { server.stop() }
        let name = "cpo-tui-hangup-\(getpid())"
        let tmp = NSTemporaryDirectory()
        let runDir = tmp + "\(name)-run", status = tmp + "\(name).status", log = tmp + "\(name).log"
        for path in [runDir, status, log] { try? FileManager.default.removeItem(atPath: path) }
        defer { for path in [runDir, status] { try? FileManager.default.removeItem(atPath: path) } }
        // The pane's shell dies of the hang-up and the kernel then sends SIGHUP to the
        // foreground process group: the program, and a subshell that ignores it to record the
        // program's exit status.
        let command = "cd '\(CLI.packageRoot.path)' && (trap '' HUP; \(Self.noConfig) LC_ALL=C.UTF-8 SWIFT_BACKTRACE=interactive=no,color=no "
            + "'\(CLI.binary!.path)' \(Self.tiny) --run-dir '\(runDir)' --log '\(log)'; echo $? > '\(status)'); sleep 1"
        try server.run(["new-session", "-d", "-s", name, "-x", "120", "-y", "40", command])
        let (ready, screen) = server.waitFor(name, seconds: 60) { Self.isUp($0) && $0.contains("ready") }
        #expect(ready, "never ready:\n\(screen)")
        let pid = try server.binaryPID(name)
        // Training (space: run every epoch), then the terminal goes.
        try server.run(["send-keys", "-t", name, "Space"])
        _ = server.waitFor(name, seconds: 5) { $0.contains("running") || $0.contains("training") }
        try server.run(["kill-session", "-t", name])
        let deadline = Date().addingTimeInterval(60)
        var code = ""
        while Date() < deadline {
            code = ((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if !code.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(code == "0", "exit status after the hang-up: '\(code)' (empty: still running)")
        #expect(Self.state(pid) == nil || Self.state(pid) == "Z", "cpo-tui \(pid) still there")
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // SIGHUP, or the hang-up seen on the terminal first: either way the same clean stop.
        #expect(logText.contains(": the dashboard stopped; the run is kept as last saved"), "no hang-up note in the log:\n\(logText)")
        let shown = try CLI.run(["runs", "show", runDir], timeout: 60)
        #expect(shown.status == 0, "the saved run does not load: \(shown.stderr)")
    }

    /// 200 resizes as fast as tmux takes them, cycling down to 1x1 and up to 200x60: the
    /// dashboard lives through them, draws the full layout at 120x40 after, and quits on q.
    @Test func aStormOfResizes() throws {
        let server = Server("resize")
        defer { server.stop() }
        let name = "cpo-tui-resize-\(getpid())"
        try server.start(name, flags: Self.tiny + " --no-save", environment: Self.noConfig)
        let (up, screen) = server.waitFor(name, seconds: 30) { Self.isUp($0) }
        #expect(up, "no first frame:\n\(screen)")
        let pid = try server.binaryPID(name)
        let sizes = [(1, 1), (2, 1), (1, 2), (200, 60), (79, 23), (3, 50), (150, 2), (40, 12), (80, 24), (120, 40)]
        for i in 0..<200 {
            let (w, h) = sizes[i % sizes.count]
            try server.run(["resize-window", "-t", name, "-x", "\(w)", "-y", "\(h)"])
            if i % 20 == 19 { #expect(Self.state(pid).map { $0 != "Z" } == true, "cpo-tui died after \(i + 1) resizes") }
        }
        try server.run(["resize-window", "-t", name, "-x", "120", "-y", "40"])
        let (whole, after) = server.waitFor(name, seconds: 20) { s in
            Self.isWhole(s) && !s.contains("too small")
        }
        #expect(whole, "the layout did not come back at 120x40:\n\(after)")
        try server.quit(name, "q after 200 resizes")
    }

    /// Ctrl-Z gives the shell a sane terminal (canonical mode, echo) and stops the process;
    /// `fg` redraws the whole dashboard; q then exits 0.
    @Test func ctrlZThenFgRestoresTheScreen() throws {
        let server = Server("tstp")
        defer { server.stop() }
        let name = "cpo-tui-tstp-\(getpid())"
        try server.run(["new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                        "cd '\(CLI.packageRoot.path)' && PS1='READY> ' exec bash --norc --noprofile -i"])
        let (prompt, first) = server.waitFor(name, seconds: 20) { $0.contains("READY>") }
        #expect(prompt, "no shell prompt:\n\(first)")
        let log = NSTemporaryDirectory() + "\(name).log"
        try server.run(["send-keys", "-t", name, "-l",
                        "\(Self.noConfig) LC_ALL=C.UTF-8 SWIFT_BACKTRACE=interactive=no,color=no '\(CLI.binary!.path)' \(Self.tiny) --no-save --log '\(log)'"])
        try server.run(["send-keys", "-t", name, "Enter"])
        let (up, screen) = server.waitFor(name, seconds: 30) { Self.isUp($0) }
        #expect(up, "no first frame:\n\(screen)")
        let pid = try server.binaryPID(name)

        try server.run(["send-keys", "-t", name, "C-z"])
        let (stopped, stoppedScreen) = server.waitFor(name, seconds: 20) { s in
            s.contains("Stopped") && s.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.hasPrefix("READY>") == true
        }
        #expect(stopped && Self.state(pid) == "T", "Ctrl-Z did not stop it (state \(String(describing: Self.state(pid)))):\n\(stoppedScreen)")
        // The shell's terminal: canonical mode and echo (the output line ends in MODE-END; the
        // typed command shows MODE""-END).
        try server.run(["send-keys", "-t", name, "-l",
                        "stty -a | tr ' ;' '\\n\\n' | grep -x -E 'icanon|echo|-icanon|-echo' | tr '\\n' ' '; echo MODE\"\"-END"])
        try server.run(["send-keys", "-t", name, "Enter"])
        let (moded, modeScreen) = server.waitFor(name, seconds: 20) { $0.split(separator: "\n").contains { $0.hasSuffix("MODE-END") } }
        let modes = modeScreen.split(separator: "\n").last { $0.hasSuffix("MODE-END") }.map(String.init) ?? ""
        #expect(moded && modes.contains("icanon") && modes.contains("echo") && !modes.contains("-icanon") && !modes.contains("-echo"),
                "the stopped dashboard left the terminal in \(modes):\n\(modeScreen)")

        try server.run(["send-keys", "-t", name, "-l", "fg"])
        try server.run(["send-keys", "-t", name, "Enter"])
        let (redrawn, redrawnScreen) = server.waitFor(name, seconds: 20) { s in
            Self.isWhole(s) && !s.contains("READY>") && !s.contains("MODE-END")
        }
        #expect(redrawn, "fg did not redraw the whole dashboard:\n\(redrawnScreen)")
        #expect(Self.state(pid).map { $0 != "T" && $0 != "Z" } == true)

        try server.run(["send-keys", "-t", name, "q"])
        let (back, _) = server.waitFor(name, seconds: 30) { $0.contains("READY>") }
        #expect(back)
        try server.run(["send-keys", "-t", name, "-l", "echo EXIT=$?"])
        try server.run(["send-keys", "-t", name, "Enter"])
        let (exited, end) = server.waitFor(name, seconds: 10) { $0.contains("EXIT=0") }
        #expect(exited, "q after fg: \(end)")
    }
}

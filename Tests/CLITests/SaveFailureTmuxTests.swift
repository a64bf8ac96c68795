import Foundation
import Testing

/// The dashboard whose saves fail (a file size limit, `ulimit -f`, in the pane's shell): the
/// screen says SAVE FAILED while it trains on, and quitting then exits 1 with the failure and
/// the resume command, the terminal restored.
@Suite("the dashboard when saves fail (tmux)",
       .enabled(if: Tmux.path != nil, "tmux is not installed"),
       .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct SaveFailureTmuxTests {
    @Test func aFailedSaveShowsAndQuittingExitsNonZero() throws {
        let name = "cpo-tui-savefail-\(getpid())"
        let runDir = NSTemporaryDirectory() + "\(name)-run"
        try? FileManager.default.removeItem(atPath: runDir)
        defer { try? FileManager.default.removeItem(atPath: runDir) }
        // 16 KB: config.json and the log fit, a checkpoint does not.
        try TmuxTests.start(name, flags: TmuxTests.tiny + " --run-dir '\(runDir)'", environment: "ulimit -f 32;")
        defer { _ = try? Tmux.run(["kill-session", "-t", name]) }

        let (failed, screen) = Tmux.waitFor(name, seconds: 60) { $0.contains("SAVE FAILED") }
        #expect(failed, "no SAVE FAILED on the screen:\n\(screen)")
        let header = screen.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.contains("SAVE FAILED"), "not in the header:\n\(screen)")
        try Tmux.run(["send-keys", "-t", name, "q"])
        let (ended, end) = Tmux.waitFor(name, seconds: 30) { $0.contains("STTY") }
        #expect(ended && end.contains("EXIT=1"), "\(end)")
        let flat = end.replacingOccurrences(of: "\n", with: "")
        #expect(flat.contains("the last save failed") && flat.contains("File too large"), "\(end)")
        #expect(end.contains("icanon echo") || end.contains("echo icanon"), "terminal not restored:\n\(end)")
        #expect(FileManager.default.fileExists(atPath: runDir + "/config.json"))
        #expect(!FileManager.default.fileExists(atPath: runDir + "/checkpoint-seed0.cpo"))
    }
}

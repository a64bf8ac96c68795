import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Starts and reaps child processes with posix_spawn and waitpid, never Foundation's `Process`.
///
/// Why: on Linux, `Process.waitUntilExit()` was seen to hang for ever when the child (a tmux
/// client that had just forked its server) exited quickly: the child stayed a zombie, the
/// run loop never heard of it, and CI ran out of time after every test had passed. Here the
/// child's output goes to files (no pipe to fill or to hold open) and `wait` polls `waitpid`
/// with a deadline, killing the child when the deadline passes.
enum Spawn {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Child {
        let pid: pid_t
        let stdoutPath: String
        let stderrPath: String
    }

    struct Result {
        /// The exit code, or 128 + the signal that ended the child (as a shell reports it).
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
    }

    private static let counter = Mutex(0)

    /// The `cpo-tui` binary `swift test` built beside the test bundle (searched upward from the
    /// test runner), else `.build/debug/cpo-tui` under the current directory (`swift test` runs
    /// from the package root).
    static let builtBinary: URL? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("cpo-tui")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/cpo-tui")
        return FileManager.default.isExecutableFile(atPath: fallback.path) ? fallback : nil
    }()

    /// Starts `executable` with `arguments` in `directory`; stdin is /dev/null and stdout and
    /// stderr go to fresh temporary files. All signals are reset to their defaults and none is
    /// blocked in the child, whatever the test process had set up.
    static func start(_ executable: String, _ arguments: [String], directory: String? = nil,
                      environment: [String: String] = [:]) throws -> Child {
        let n = counter.withLock { value -> Int in value += 1; return value }
        let base = NSTemporaryDirectory() + "cpo-spawn-\(getpid())-\(n)"
        let outPath = base + ".out", errPath = base + ".err"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var env = ProcessInfo.processInfo.environment
        // A child never touches the user's preparation cache: it is off unless a test turns it on.
        env["CPO_TUI_CACHE_MAX_MB"] = "0"
        for (k, v) in environment { env[k] = v }
        // glibc's posix_spawn_file_actions_addchdir_np is not visible from Swift: a directory is
        // entered by a shell that then execs the program (same pid, so waiting and killing work).
        let command = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0, executable] } ?? [executable]
        let argv = (command + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw Failure(description: "posix_spawn \(executable): \(String(cString: strerror(rc)))")
        }
        return Child(pid: pid, stdoutPath: outPath, stderrPath: errPath)
    }

    /// Waits for `child` at most `timeout` seconds; past that it is killed (SIGKILL) and reaped.
    /// Returns the child's output and status; the temporary files are removed.
    static func wait(_ child: Child, timeout: Double) -> Result {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var timedOut = false
        while true {
            let r = waitpid(child.pid, &status, WNOHANG)
            if r == child.pid { break }
            if r == -1 && errno != EINTR { status = 0x7f00; break }  // not our child any more
            if Date() >= deadline {
                timedOut = true
                kill(child.pid, SIGKILL)
                while waitpid(child.pid, &status, 0) == -1 && errno == EINTR {}
                break
            }
            usleep(5_000)
        }
        let out = (try? String(contentsOfFile: child.stdoutPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: child.stderrPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: child.stdoutPath)
        try? FileManager.default.removeItem(atPath: child.stderrPath)
        return Result(status: decode(status), stdout: out, stderr: err, timedOut: timedOut)
    }

    /// Starts and waits: the whole run of a short command.
    static func run(_ executable: String, _ arguments: [String], directory: String? = nil,
                    environment: [String: String] = [:], timeout: Double = 600) throws -> Result {
        wait(try start(executable, arguments, directory: directory, environment: environment), timeout: timeout)
    }

    /// waitpid's status word as a shell would report it.
    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

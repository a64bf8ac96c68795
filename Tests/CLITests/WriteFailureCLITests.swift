import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every file in `dir` with its bytes (temporary files included, so that a left one shows).
private func files(_ dir: String) -> [String: Data] {
    var out: [String: Data] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
        out[name] = FileManager.default.contents(atPath: dir + "/" + name)
    }
    return out
}

/// The epoch lines of a headless run's output, without the seconds at their end.
private func epochLines(_ stdout: String) -> [String] {
    stdout.split(separator: "\n").filter { $0.hasPrefix("seed ") && $0.contains(" epoch ") }.map { line in
        String(line.replacingOccurrences(of: #"\s+[0-9.]+s$"#, with: "", options: .regularExpression))
    }
}

/// Sets the number of epochs in a run's config.json (what `--resume DIR --epochs E` does), so
/// that a later `--resume` trains on without writing the file first.
private func setEpochs(_ run: String, _ epochs: Int) throws {
    let path = run + "/config.json"
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let changed = text.replacingOccurrences(of: #""epochs"\s*:\s*[0-9]+"#, with: "\"epochs\" : \(epochs)", options: .regularExpression)
    try #require(changed != text)
    try changed.write(toFile: path, atomically: true, encoding: .utf8)
}

private func exportArguments(seed: Int) -> [String] { Array(ExportCLITests.small.dropLast(2)) + ["--seed", "\(seed)"] }

/// A tmpfs mounted (by mount(8)) at a fresh directory, for a disk that really fills up; nil
/// when not root or mounting is not allowed here.
private struct MountedDisk {
    let path: String

    static let available: Bool = {
        guard let disk = MountedDisk() else { return false }
        disk.unmount()
        return true
    }()

    init?() {
        guard getuid() == 0 else { return nil }
        path = NSTemporaryDirectory() + "cpo-cli-tmpfs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard (try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)) != nil,
              let r = try? Spawn.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", path], timeout: 30), r.status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
    }

    func unmount() {
        _ = try? Spawn.run("/bin/umount", [path], timeout: 30)
        rmdir(path)
    }

    /// Takes all the free space but `bytes` with a file (reserved with posix_fallocate).
    func leave(_ bytes: Int) throws {
        var vfs = statvfs()
        try #require(statvfs(path, &vfs) == 0)
        let free = Int(vfs.f_bavail) * Int(vfs.f_frsize)
        let fd = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(posix_fallocate(fd, 0, off_t(free - bytes)) == 0)
    }

    func free() { unlink(path + "/filler") }
}

/// A save, a report and an export that cannot be written (a file size limit, a full disk)
/// through the binary: the run trains to the end, says what failed and where, exits non-zero;
/// the last complete save, the report and the export there before are left byte for byte,
/// with no temporary file; once writes work again, the run resumes from that save to the same
/// numbers.
@Suite("saves, reports and exports that cannot be written", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct WriteFailureCLITests {
    static let limit = 16 << 10

    /// `cpo-tui args` under a file size limit of `bytes` (`ulimit -f`, in 512-byte blocks).
    static func underFileSizeLimit(_ bytes: Int, _ args: [String], environment: [String: String] = [:]) throws -> CLI.Result {
        try CLI.run("/bin/sh", ["-c", "ulimit -f \(bytes / 512) && exec \"$0\" \"$@\"", CLI.binary!.path] + args,
                    environment: environment)
    }

    /// The story of the suite in `base`; `constrained` runs a command where writes fail, and
    /// its output must say `says`. `bound` is the size a file must pass to fail.
    static func writesFailAndTheRunGoesOn(in base: String, bound: Int, says: [String],
                                          constrained: ([String]) throws -> CLI.Result) throws {
        let run = base + "/run", report = base + "/report", export = base + "/export"
        let first = try CLI.run(["run"] + tinyRun + ["--epochs", "1", "--run-dir", run, "--report", report])
        try #require(first.status == 0, "\(first.stderr)")
        try #require(CLI.run(["export", "--to", export] + exportArguments(seed: 4)).status == 0)
        try setEpochs(run, 2)
        let saved = files(run).filter { $0.key != "config.json" }, reported = files(report), exported = files(export)
        // Each of them holds a file too large to write now.
        for (what, dir) in [("the checkpoint", saved), ("the report", reported), ("the export", exported)] {
            try #require(dir.values.contains { $0.count > bound }, "\(what) has no file over \(bound) bytes: the test proves nothing")
        }

        let failed = try constrained(["run", "--resume", run, "--report", report])
        #expect(failed.status != 0 && failed.status < 128, "exit \(failed.status) (a signal ended it?)\n\(failed.stderr)")
        #expect(failed.stdout.contains("CPO          epoch 2") && failed.stdout.contains("DR-CPO       epoch 2"),
                "training did not go on to the end:\n\(failed.stdout)")
        for part in says + ["warning: saving the run to \(run)/", "the last complete save is untouched",
                            "the run finished but its last save failed", "continue with cpo-tui run --resume \(run)",
                            "writing the report failed at \(report)/", "The report in \(report) is as it was"] {
            #expect(failed.stderr.contains(part), "\(part) is not in:\n\(failed.stderr)")
        }
        #expect(files(run).filter { $0.key != "config.json" } == saved, "the last complete save changed")
        #expect(files(report) == reported, "the report changed")
        let shown = try CLI.run(["runs", "show", run])
        #expect(shown.status == 0 && shown.stdout.contains("CPO 1, DR-CPO 1"), "\(shown.stdout)\(shown.stderr)")

        let refused = try constrained(["export", "--to", export] + exportArguments(seed: 5))
        #expect(refused.status != 0 && refused.status < 128)
        for part in says + ["writing the export failed at \(export)/", "an earlier export there is as it was"] {
            #expect(refused.stderr.contains(part), "\(part) is not in:\n\(refused.stderr)")
        }
        #expect(files(export) == exported, "the export changed")

        // Writes work again: the same epochs, trained again from the last complete save, give
        // the same numbers, and everything is written.
        let resumed = try CLI.run(["run", "--resume", run, "--report", report])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!epochLines(resumed.stdout).isEmpty && epochLines(resumed.stdout) == epochLines(failed.stdout))
        #expect(files(report) != reported && Set(files(report).keys) == Set(reported.keys))
        #expect(try CLI.run(["export", "--to", export] + exportArguments(seed: 5)).status == 0)
        #expect(files(export) != exported && Set(files(export).keys) == Set(exported.keys))
    }

    /// Under `ulimit -f` (16 KB) every large write fails with EFBIG, which the program survives
    /// (it ignores SIGXFSZ, which would otherwise end it).
    @Test func aFileSizeLimitFailsWritesButNotTheRun() throws {
        let base = scratchDirectory("fsize")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try Self.writesFailAndTheRunGoesOn(in: base, bound: Self.limit,
                                           says: ["File too large", "may not write files over 16 KB (ulimit -f)"]) {
            try Self.underFileSizeLimit(Self.limit, $0)
        }
    }

    /// On a full disk (a 64 MB tmpfs with all but 32 KB taken), as root.
    @Test(.enabled(if: MountedDisk.available, "needs root and a tmpfs mount"))
    func aFullDiskFailsWritesButNotTheRun() throws {
        let disk = try #require(MountedDisk())
        defer { disk.unmount() }
        let room = 32 << 10
        try Self.writesFailAndTheRunGoesOn(in: disk.path, bound: room,
                                           says: ["No space left on device", "the file system at \(disk.path) has",
                                                  "free some space on it"]) { args in
            try disk.leave(room)
            defer { disk.free() }
            return try CLI.run(args)
        }
    }

    /// A preparation cache that cannot be written is skipped with a note; the run is not
    /// affected and exits 0, and the cache holds no entry and no temporary file.
    @Test func aCacheThatCannotBeWrittenIsSkipped() throws {
        let cache = scratchDirectory("fsize-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let r = try Self.underFileSizeLimit(Self.limit, ["run", "--no-save", "--epochs", "1"] + tinyRun,
                                            environment: ["XDG_CACHE_HOME": cache, "CPO_TUI_CACHE_MAX_MB": "64"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("preparation cache: cannot write to \(cache)/cpo-tui/prepared (")
                && r.stdout.contains("File too large") && r.stdout.contains("going on without the cache"), "\(r.stdout)")
        #expect(r.stdout.contains("CPO          epoch 1"))
        #expect(files(cache + "/cpo-tui/prepared").isEmpty)
    }
}

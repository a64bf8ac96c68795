import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Named pipes, devices and looping links where `cpo-tui` reads or writes files, through the
/// binary: every one is refused at once with what it is and a non-zero exit; none blocks (a
/// pipe with no writer used to block the loader for ever). Each command gets 60 s, far more
/// than a refusal takes; one still running then fails its test.
@Suite("files that are not regular files, through the binary", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct SpecialFileCLITests {
    static let folder = NSTemporaryDirectory() + "cpo-cli-special-\(getpid())"

    /// A named pipe with no writer at a fresh path.
    static func fifo(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        unlink(path)
        try #require(mkfifo(path, 0o600) == 0)
        return path
    }

    /// A symbolic link to itself at a fresh path.
    static func loop(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        unlink(path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: path)
        return path
    }

    static func expectRefused(_ args: [String], naming path: String, _ fragments: [String]) throws {
        let r = try CLI.run(args, timeout: 60)
        let command = "cpo-tui " + args.prefix(3).joined(separator: " ")
        #expect(r.status != 0 && r.status < 128, "\(command): exit \(r.status)")
        #expect(r.stderr.contains(path), "\(command) does not name \(path): \(r.stderr)")
        for f in fragments { #expect(r.stderr.contains(f), "\(command) does not say \(f): \(r.stderr)") }
    }

    static let pipe = "is a named pipe (FIFO), not a regular file: cpo-tui reads regular files"
    static let looping = "too many levels of symbolic links"

    @Test func dataWorldConfigAndModelInputsAreRefused() throws {
        let csv = try Self.fifo("rows.csv"), toml = try Self.fifo("world.toml"), config = try Self.fifo("config.toml")
        let model = try Self.fifo("ghat.json"), loopCSV = try Self.loop("loop.csv"), loopTOML = try Self.loop("loop.toml")
        let runDir = scratchDirectory("special-never-made")
        try Self.expectRefused(["data", "check", "--data", csv], naming: csv, [Self.pipe, "cmd > data.csv"])
        try Self.expectRefused(["run", "--data", csv, "--run-dir", runDir] + tinyRun, naming: csv, [Self.pipe])
        #expect(!FileManager.default.fileExists(atPath: runDir), "a run directory was made for data that cannot be read")
        try Self.expectRefused(["world", "check", toml], naming: toml, ["world file", Self.pipe])
        try Self.expectRefused(["run", "--no-save", "--world", toml] + tinyRun, naming: toml, [Self.pipe])
        try Self.expectRefused(["config", "show", "--config", config], naming: config, ["config file", Self.pipe])
        try Self.expectRefused(["ghat", "score", "--model", model, "--in", csv, "--out", Self.folder + "/scored.jsonl"],
                               naming: model, [Self.pipe])
        // Data piped in (what `--data <(cmd)` or `cmd | cpo-tui ... --data /dev/stdin` gives).
        let piped = try CLI.run("/bin/sh", ["-c", "echo text,outcome | exec \"$0\" data check --data /dev/stdin", CLI.binary!.path],
                                timeout: 60)
        #expect(piped.status == 1 && piped.stderr.contains("/dev/stdin: this is a named pipe (FIFO)")
                && piped.stderr.contains("Save the data to a file first"), "\(piped.stderr)")
        try Self.expectRefused(["data", "check", "--data", "/dev/zero", "--format", "csv"], naming: "/dev/zero", ["a character device, not a regular file"])
        try Self.expectRefused(["data", "check", "--data", loopCSV], naming: loopCSV, [Self.looping])
        try Self.expectRefused(["world", "check", loopTOML], naming: loopTOML, [Self.looping])
    }

    /// A saved run whose config.json or checkpoint is a named pipe: `runs show` and `--resume`
    /// refuse it at once.
    @Test func savedRunFilesThatArePipesAreRefused() throws {
        let run = scratchDirectory("special-run")
        let made = try CLI.run(["run", "--epochs", "0", "--run-dir", run] + tinyRun)
        try #require(made.status == 0, "\(made.stderr)")
        let checkpoint = run + "/checkpoint-seed0.cpo"
        unlink(checkpoint)
        try #require(mkfifo(checkpoint, 0o600) == 0)
        try Self.expectRefused(["runs", "show", run], naming: checkpoint, [Self.pipe])
        try Self.expectRefused(["run", "--resume", run], naming: checkpoint, [Self.pipe])
        let config = run + "/config.json"
        unlink(config)
        try #require(mkfifo(config, 0o600) == 0)
        try Self.expectRefused(["runs", "show", run], naming: config, [Self.pipe])
        try Self.expectRefused(["run", "--resume", run], naming: config, [Self.pipe])
    }

    /// Where output goes: a run directory, a report directory, an export directory or an
    /// output file that is a pipe, a device or a looping link is refused before any work,
    /// and left as it was.
    @Test func outputPlacesThatAreNotRegularAreRefused() throws {
        let fifo = try Self.fifo("out"), loop = try Self.loop("loop-out")
        let noWork = "FT epoch"
        for (flag, place, what) in [("--run-dir", fifo, "a named pipe (FIFO)"), ("--run-dir", loop, "a symbolic link that loops"),
                                    ("--run-dir", "/dev/null", "a character device")] {
            let r = try CLI.run(["run", flag, place] + tinyRun, timeout: 60)
            #expect(r.status != 0 && r.stderr.contains(place) && r.stderr.contains(what), "\(flag) \(place): \(r.stderr)")
            #expect(!r.stdout.contains(noWork))
        }
        for (place, what) in [(fifo, "is a named pipe (FIFO); pass a directory"), (loop, "is a symbolic link that loops"),
                              ("/dev/null", "is a character device; pass a directory"), (fifo + "/sub", "not a directory")] {
            let r = try CLI.run(["run", "--no-save", "--report", place] + tinyRun, timeout: 60)
            #expect(r.status != 0 && r.stderr.contains("--report") && r.stderr.contains(what), "--report \(place): \(r.stderr)")
            #expect(!r.stdout.contains(noWork))
        }
        for (place, what) in [(fifo, "is a named pipe (FIFO); pass a directory"), (loop, "is a symbolic link that loops")] {
            let r = try CLI.run(["export", "--to", place] + ExportCLITests.small, timeout: 60)
            #expect(r.status != 0 && r.stderr.contains(what), "export --to \(place): \(r.stderr)")
        }
        let sampled = try CLI.run(["world", "sample", "--rows", "5", "--out", fifo], timeout: 60)
        #expect(sampled.status != 0 && sampled.stderr.contains("\(fifo) is a named pipe (FIFO), not a regular file: cpo-tui writes regular files"),
                "\(sampled.stderr)")
        var st = stat()
        #expect(stat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the pipe was replaced")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Self.folder)) ?? []
        #expect(!names.contains { $0.hasPrefix(".tmp-") })
    }
}

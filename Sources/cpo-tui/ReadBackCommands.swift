import ArgumentParser
import Bridge
import CausalPO
import Dashboard
import Foundation
import Lab
import OutcomeData

struct EstimateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "V_IPW, V_SNIPW, V_OUT and V_DR with 95% intervals, ESS and weight diagnostics from a rows file.",
        discussion: """
            Reads a rows file (header text,outcome,logP_f,logP_R,ghat,weight; outcome oriented so \
            that larger is better) and, for V_OUT and V_DR, the matching f0 file (header \
            text,logP_f0,logP_f,ghat,weight), as `cpo-tui run --report` and train_cpo.py write \
            them, and computes every estimate with the lab's own estimators. The weights are \
            recomputed from the log-probabilities; a weight column that disagrees is reported. \
            Estimates resting on too few effective rows are marked `!`, as in the dashboard.
            """)

    @Option(help: "The rows file (rows-METHOD-seedK.csv).")
    var rows: String

    @Option(help: "The f0 file (f0-METHOD-seedK.csv); without it V_OUT and V_DR are not computed.")
    var f0: String?

    @Option(help: "Weights of V_DR's residual term: hajek or horvitz-thompson (the run's objective normalization).")
    var normalization: String = WeightNormalization.hajek.rawValue

    @Option(help: "Batch size of the in-batch ESS (the run's --batch-size).")
    var batchSize: Int = LabConfig().batchSize

    @Flag(help: "Print JSON (keys in README, \"Scaling out\") instead of text.")
    var json = false

    func validate() throws {
        guard WeightNormalization(rawValue: normalization) != nil else {
            throw ValidationError("--normalization must be hajek or horvitz-thompson")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        let estimate: RowsEstimate
        do {
            estimate = RowsEstimate(rows: try RowsFile(path: rows), f0: try f0.map { path throws(InputError) in try F0File(path: path) },
                                    normalization: WeightNormalization(rawValue: normalization) ?? .hajek, batchSize: batchSize)
        } catch {
            throw CLIError(error)
        }
        print(json ? estimate.jsonText() : estimate.text, terminator: "")
        // A weight column that disagrees is said on stderr too, so it is seen beside --json.
        let checks = [(estimate.rowsCheck, "logP_f - logP_R")] + (estimate.f0Check.map { [($0, "logP_f - logP_f0")] } ?? [])
        for (c, what) in checks where !c.matches {
            FileHandle.standardError.write(Data((c.sentence(what) + "\n").utf8))
        }
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "The dashboard, read-only, on a run directory another program writes (train_cpo.py, or a report).",
        discussion: """
            Follows DIR/metrics.jsonl as it grows (it may not exist yet, and its last line may be \
            incomplete) and shows losses, weights, estimates and generations. Estimates of epoch \
            lines that name rows/f0 files (train_cpo.py) are computed from those files, relative to \
            DIR, with the lab's estimators; a `cpo-tui run --report DIR` directory carries them \
            already. Keys that would train are off. --once prints one frame as text and exits. \
            (CPO here is Causal Preference Optimization; TRL's CPOTrainer is Contrastive Preference \
            Optimization, a different method.)
            """)

    @Argument(help: "The run directory (holding metrics.jsonl, or where it will appear).")
    var directory: String

    @Option(help: "The seed to show when the file holds several (default: the first one in it).")
    var seed: UInt64?

    @Flag(help: "Render one frame as plain text to stdout and exit.")
    var once = false

    @Option(help: "Width of the --once frame, in cells.")
    var width: Int = 120

    @Option(help: "Height of the --once frame, in cells.")
    var height: Int = 40

    @OptionGroup var display: DisplayOptions
    @OptionGroup var configFile: ConfigOption

    @Option(help: "Quit after this many frames (for scripted tests).")
    var frames: Int?

    func validate() throws {
        guard width >= 1, height >= 1 else { throw ValidationError("--width and --height must be positive") }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("\(directory) is a file; pass the run directory that holds metrics.jsonl")
        }
    }

    func run() throws {
        var follower = WatchFollower(directory: directory, seed: seed)
        follower.poll()
        // The config file's keys apply here too, less the training ones.
        let dashboard = try ReadOnlyDashboard(display: display, configFile: configFile, showing: "watching")
        if once {
            print(dashboard.text(follower.model.snapshot(), view: .dashboard, width: width, height: height))
            return
        }
        let directory = directory
        try dashboard.run("watch", otherwise: "pass --once to print one frame as text", view: .dashboard, frames: frames,
                          // Into the watched run directory if it is writable, else the current one.
                          exportDirectory: { FileManager.default.isWritableFile(atPath: directory) ? directory : "." },
                          source: WatchSource(follower))
    }
}

/// The dashboard's source in watch mode: polls the run directory at most twice a second and
/// drops every command (nothing trains here).
final class WatchSource: SnapshotSource {
    private var follower: WatchFollower
    private var lastPoll = Date()
    private var cached: LabSnapshot

    init(_ follower: WatchFollower) {
        self.follower = follower
        cached = follower.model.snapshot()
    }

    static let pollInterval = 0.5

    func snapshot() -> LabSnapshot {
        if Date().timeIntervalSince(lastPoll) >= Self.pollInterval {
            lastPoll = Date()
            if follower.poll() { cached = follower.model.snapshot() }
        }
        return cached
    }

    func send(_ command: LabCommand) {}
}

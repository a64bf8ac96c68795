import ArgumentParser
import Foundation
import Lab

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Saved runs: what a run directory holds, checked by loading it.",
        subcommands: [RunsShow.self])
}

struct RunsShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Load every checkpoint of a saved run (checksums, data, weights) and summarize it.",
        discussion: """
            Exit 0 when everything loads; non-zero with the problem otherwise. Nothing is written, \
            so it works while another cpo-tui writes the run (it says which, and shows the last save).
            """)

    @Argument(help: "A run directory (runs/NAME).") var directory: String

    func run() throws {
        let dir: RunDirectory, cfg: LabConfig
        do { (dir, cfg) = try RunDirectory.open(directory) } catch { throw CLIError(error.description) }
        let source: String
        switch cfg.source {
        case .world(let w): source = "world \(w)"
        case .file(let p, _): source = "data \(p)"
        }
        print("run \(dir.path): \(source), methods \(cfg.methods.map(\.rawValue).joined(separator: ",")), \(cfg.epochs) epochs, seeds \(cfg.seed)..\(cfg.seed + UInt64(cfg.seeds) - 1)")
        if let writer = dir.writer() {
            print("  in use by `\(writer.shortCommand)` (\(writer.summary)): shown as last saved")
        }
        for k in 0..<cfg.seeds {
            let s = cfg.seed + UInt64(k)
            guard dir.hasCheckpoint(seed: s) else {
                print("  seed \(s): no checkpoint yet (stopped before its preparation finished)")
                continue
            }
            do {
                let (exp, info) = try dir.restore(seed: s, config: cfg)
                print("  seed \(s): saved \(info.savedAt); epochs \(exp.epochSummary()); \(info.generations) sample requests")
            } catch {
                throw CLIError(error.description)
            }
        }
    }
}

import ArgumentParser
import CPOSupport
import Foundation
import Lab
import OutcomeData

/// A user-facing failure: printed as `Error: <description>` by ArgumentParser, exit code 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
    init(_ error: InputError) { description = error.description }
}

/// Loads a world by path or shipped name, turning every problem into a CLIError.
func loadWorld(_ nameOrPath: String) throws -> (World, String) {
    do {
        let path = try ShippedWorlds.resolve(nameOrPath)
        return (try World.load(path: path), path)
    } catch {
        throw CLIError(error)
    }
}

struct WorldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "world",
        abstract: "Simulated worlds: randomized text experiments whose true causal effects are known.",
        subcommands: [WorldSample.self, WorldCheck.self, WorldList.self])
}

struct WorldSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample a direct-outcome dataset (CSV) from a world.",
        discussion: """
            Columns: text, outcome, trait, propensity (of the design used; observational:
            P(x | trait)), design, one 0/1 column per attribute, true_value (the oracle's g*).
            The same world, design, rows and seed give the same file, byte for byte.
            """)

    @Option(help: "A world file, or the name of a shipped world (see `cpo-tui world list`).")
    var world: String = ShippedWorlds.defaultName

    @Option(help: "randomized (P^R) or observational (the confounded log).")
    var design = WorldSample.defaults.design

    @Option(help: "Number of rows.")
    var rows = WorldSample.defaults.rows

    @Option(help: "Random seed.")
    var seed = WorldSample.defaults.seed

    @Option(help: "Output CSV file (written atomically); standard output when omitted.")
    var out: String?

    /// The sample a run would draw: the same design, rows and seed by default.
    private static let defaults = LabConfig()
    /// More rows than this are refused (10 million rows is a file of a few GB).
    static let maxRows = 10_000_000

    func validate() throws {
        guard rows >= 1 && rows <= Self.maxRows else {
            throw ValidationError("--rows must be between 1 and 10,000,000")
        }
    }

    func run() throws {
        let (w, path) = try loadWorld(world)
        if design == .observational && !w.hasObservationalDesign {
            FileHandle.standardError.write(Data("note: \(path) has no [observational] section; the observational design equals the randomized one\n".utf8))
        }
        if let out, URL(fileURLWithPath: out).standardizedFileURL == URL(fileURLWithPath: path).standardizedFileURL {
            throw CLIError("--out \(out) is the world file itself; choose another output file")
        }
        if let clash = w.attributes.map(\.name).first(where: { WorldDatasets.fixedColumns.contains($0) }) {
            throw CLIError("\(path): attribute '\(clash)' has the name of a fixed column; rename the attribute")
        }
        let csv = WorldDatasets.csv(world: w, samples: w.sample(rows: rows, design: design, seed: seed))
        if let out {
            do {
                try AtomicFile.write(csv.bytes, to: out)
            } catch {
                throw CLIError(error.description)
            }
            FileHandle.standardError.write(Data("wrote \(rows) rows (\(design.rawValue) design of \(w.name), seed \(seed)) to \(out)\n".utf8))
        } else {
            // The rows exactly, into a pipe or file; on a terminal, with control characters shown.
            let text = isatty(STDOUT_FILENO) == 1 ? Array(TerminalText.escaped(String(decoding: csv.bytes, as: UTF8.self)).utf8) : csv.bytes
            FileHandle.standardOutput.write(Data(text))
        }
    }
}

struct WorldCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a world file and summarize it; errors name the line and what to fix.")

    @Argument(help: "A world file, or the name of a shipped world.")
    var world: String

    func run() throws {
        let (w, path) = try loadWorld(world)
        print(WorldDatasets.summary(world: w, path: path))
    }
}

struct WorldList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the shipped worlds.")

    func run() throws {
        let found = ShippedWorlds.available()
        if found.isEmpty {
            throw CLIError("no shipped worlds found (looked in \(ShippedWorlds.searchFolders().joined(separator: ", ")))")
        }
        for (name, path) in found {
            let desc = (try? World.load(path: path)).map(\.description) ?? "(does not load: run `cpo-tui world check \(path)`)"
            print(name.padding(toLength: 20, withPad: " ", startingAt: 0) + desc)
        }
    }
}

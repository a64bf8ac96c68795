import ArgumentParser
import Dashboard
import Foundation
import Lab
#if canImport(Glibc)
import Glibc
#endif

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Saved runs side by side: their learning curves overlaid and the last epoch's table.",
        discussion: """
            Loads every saved seed of each run directory (checking it, as `cpo-tui runs show` \
            does) and shows the dashboard's compare view on them, read-only. Runs that differ \
            only by seed (the same source, methods and options) form one group, drawn as the \
            mean and 95% band over its seeds; runs with other settings are separate series, \
            named by method and directory ("CPO (runA)"), with a table row per run and method. \
            ← → move the epoch the table reads out. With --text, or when stdout is not a \
            terminal, the view is printed as plain text at --size and the command exits.
            """)

    @Argument(help: "Run directories (runs/NAME), as `cpo-tui run --run-dir` or the dashboard saved them.")
    var directories: [String]

    @Flag(help: "Print the compare view as plain text and exit (also when stdout is not a terminal).")
    var text = false

    @Option(help: "Size of the --text view, WIDTHxHEIGHT (at least 80x24).")
    var size: ScreenSize = ScreenSize(width: 120, height: 40)

    @OptionGroup var display: DisplayOptions
    @OptionGroup var configFile: ConfigOption

    @Option(help: "Quit after this many frames (for scripted tests).")
    var frames: Int?

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("pass at least one run directory (runs/NAME)") }
    }

    func run() throws {
        // The display settings first: a bad --theme stops the command before the runs load.
        let dashboard = try ReadOnlyDashboard(display: display, configFile: configFile, showing: "comparing")
        let snapshot: LabSnapshot
        do {
            snapshot = try RunComparison.load(directories) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        } catch {
            throw CLIError(error.description)
        }
        // The first method that trains is selected (drawn bold; ← → step through its epochs).
        let selected = snapshot.methods.firstIndex { $0.method.trains } ?? 0
        if text || isatty(1) == 0 {
            print(dashboard.text(snapshot, view: .compare, selected: selected, width: size.width, height: size.height))
            return
        }
        // x writes the screen into the current directory (the runs compared stay as they were saved).
        try dashboard.run("compare", otherwise: "pass --text to print the view", view: .compare, selected: selected,
                          frames: frames, exportDirectory: { "." }, source: FixedSource(snapshot))
    }
}

/// `--size 120x40`.
struct ScreenSize: ExpressibleByArgument {
    var width: Int
    var height: Int

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]),
              w >= DashboardView.minimumWidth, h >= DashboardView.minimumHeight, w <= 1000, h <= 1000 else { return nil }
        self.init(width: w, height: h)
    }

    var defaultValueDescription: String { "\(width)x\(height)" }
}

/// A source that always shows the same snapshot and drops every command (nothing trains).
final class FixedSource: SnapshotSource {
    private let fixed: LabSnapshot

    init(_ snapshot: LabSnapshot) { fixed = snapshot }

    func snapshot() -> LabSnapshot { fixed }
    func send(_ command: LabCommand) {}
}

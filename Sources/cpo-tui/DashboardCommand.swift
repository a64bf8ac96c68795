import ArgumentParser
import Dashboard
import Foundation
import Lab
import OutcomeData

struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Open the dashboard (the default command): train and compare the methods live.",
        discussion: """
            Without a terminal (not a TTY, TERM unset, unknown or dumb) it runs headless instead,
            like `cpo-tui run`. Braille charts need a font with U+2800-U+28FF; press `a` (or pass
            --ascii) for ASCII drawing. Press `?` in the dashboard for every key.
            """)

    @OptionGroup var options: RunOptions
    @OptionGroup(title: "Saving and resuming") var saving: SaveOptions

    @OptionGroup var display: DisplayOptions

    @Option(help: "While the dashboard is up, anything the program prints goes to this file.")
    var log: String = "runs/cpo-tui.log"

    @Option(help: "Directory the report key (r) writes into.")
    var reportDir: String = "reports/latest"

    @Option(help: "Quit after this many frames (for scripted tests).")
    var frames: Int?

    func run() throws {
        let initialTheme = try Themes.load(display.theme)
        let (cfg, dir) = try saving.plan(options)
        try MainActor.assumeIsolated {
            try DashboardApp(config: cfg, runDirectory: dir, theme: initialTheme, ascii: display.ascii, fps: display.fps, logPath: log,
                             reportDir: reportDir, maxFrames: frames).run()
        }
    }
}

/// How the dashboard draws (`dashboard` and `watch`).
struct DisplayOptions: ParsableArguments {
    @Option(help: "Theme: dark, light, high-contrast, monochrome, or a theme file (.toml).")
    var theme: String = "dark"

    @Flag(help: "Draw with ASCII only (no box drawing or braille).")
    var ascii = false

    @Option(help: "Frames per second at most (1-15).")
    var fps: Int = 15

    func validate() throws {
        guard (1...15).contains(fps) else { throw ValidationError("--fps must be between 1 and 15") }
    }
}

/// Finds themes by name (themes/NAME.toml beside the repository or the executable, else the
/// built-in theme of that name) or path.
enum Themes {
    /// The themes/ folders to look in: beside the shipped worlds' folders.
    static func folders() -> [String] {
        ShippedWorlds.searchFolders().map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("themes").path
        }
    }

    static func load(_ nameOrPath: String) throws -> Theme {
        let found: Theme?
        do { found = try Theme.find(nameOrPath, folders: folders()) } catch { throw CLIError(error.description) }
        guard let found else {
            throw CLIError("theme '\(nameOrPath)' not found: use \(Theme.builtInNames.joined(separator: ", ")) or a theme file path")
        }
        return found
    }

    /// The themes `t` cycles through: each built-in one from its file in themes/ when that
    /// loads, else as built in.
    static func cycle() -> [Theme] {
        let folders = folders()
        return Theme.builtIn.map { builtIn in (try? Theme.find(builtIn.name, folders: folders)) ?? builtIn }
    }
}

/// The dashboard draws what a session publishes and sends it the user's commands.
extension LabSession: SnapshotSource {}

/// The interactive program: the dashboard's event loop on the main thread, over the ncurses
/// terminal and a `LabSession` that trains on its own thread.
@MainActor
struct DashboardApp {
    let config: LabConfig
    let runDirectory: RunDirectory?
    let theme: Theme
    let ascii: Bool
    let fps: Int
    let logPath: String
    let reportDir: String
    let maxFrames: Int?

    /// Test hook: CPO_TEST_CRASH_AFTER_FRAMES=N traps after N frames (the crash path of the
    /// terminal hygiene, tested in tmux). Unset: never.
    static let testCrashFrame: Int? = ProcessInfo.processInfo.environment["CPO_TEST_CRASH_AFTER_FRAMES"].flatMap { Int($0) }

    func run() throws {
        let logFolder = (logPath as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: logFolder.isEmpty ? "." : logFolder, withIntermediateDirectories: true)
        guard let backend = NcursesBackend(logPath: logPath) else {
            FileHandle.standardError.write(Data("note: no usable terminal (not a TTY, or TERM unset/unknown/dumb): running headless; see `cpo-tui run --help`\n".utf8))
            try HeadlessRun.run(config: config, runDirectory: runDirectory, report: nil, showSamples: false)
            return
        }
        defer { backend.shutdown() }
        var state = DashboardState(theme: theme, themes: Themes.cycle(), colors: backend.colors,
                                   glyphs: backend.utf8 && !ascii ? .unicode : .ascii, reportDirectory: reportDir)
        let session = LabSession(config: config, runDirectory: runDirectory)
        session.start()
        let loop = DashboardLoop(framesPerSecond: fps, maxFrames: maxFrames,
                                 shouldStop: { stopRequested.load(ordering: .relaxed) },
                                 afterFrame: { frames in
                                     if let crashAt = Self.testCrashFrame, frames >= crashAt {
                                         fatalError("CPO_TEST_CRASH_AFTER_FRAMES: a deliberate crash, to test that the terminal is restored")
                                     }
                                 })
        loop.run(&state, backend: backend, source: session)
        backend.shutdown()
        session.waitUntilFinished()
    }
}

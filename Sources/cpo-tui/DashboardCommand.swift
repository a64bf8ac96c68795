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
            Without a terminal (not a TTY, TERM unset or dumb) it runs headless instead, like
            `cpo-tui run`; a TERM the terminfo database lacks is drawn as xterm-256color. Braille
            charts need a font with U+2800-U+28FF; press `a` (or pass --ascii) for ASCII drawing,
            which a locale that is not UTF-8 (LANG=C) selects by itself. Ctrl-Z suspends, `fg`
            redraws; a closed terminal stops it like Ctrl-C. Press `?` in the dashboard for
            every key.
            """)

    @OptionGroup var options: RunOptions
    @OptionGroup(title: "Saving and resuming") var saving: SaveOptions
    @OptionGroup var caching: CacheOptions

    @OptionGroup var display: DisplayOptions
    @OptionGroup var configFile: ConfigOption

    @Option(help: "While the dashboard is up, anything the program prints goes to this file.")
    var log: String = "runs/cpo-tui.log"

    @Option(help: "Directory the report key (r) writes into.")
    var reportDir: String = "reports/latest"

    @Option(help: "Quit after this many frames (for scripted tests).")
    var frames: Int?

    func run() throws {
        let (config, configError) = configFile.load()
        let shown = try display.settings(config)
        var options = self.options
        options.useDefaultWorld(config.world)
        let (cfg, dir) = try saving.plan(options)
        try MainActor.assumeIsolated {
            try DashboardApp(config: cfg, runDirectory: dir, cache: caching.cache(), display: shown, keymap: config.keymap,
                             configError: configError, logPath: log, reportDir: reportDir, maxFrames: frames).run()
        }
    }
}

/// How the dashboard draws (`dashboard` and `watch`). Each flag, when given, overrides the
/// config file, which overrides the built-in default.
struct DisplayOptions: ParsableArguments {
    @Option(help: "Theme: dark, light, high-contrast, monochrome, or a theme file (.toml). Default: the config file's, else dark.")
    var theme: String?

    @Flag(inversion: .prefixedNo, help: "Draw with ASCII only (no box drawing or braille). Default: the config file's, else on exactly when the locale is not UTF-8.")
    var ascii: Bool?

    @Flag(inversion: .prefixedNo, help: "Clicks and the mouse wheel (M toggles it; off: the terminal's text selection works). Default: the config file's, else off.")
    var mouse: Bool?

    @Option(help: "Frames per second at most (1-15). Default: the config file's, else 15.")
    var fps: Int?

    func validate() throws {
        if let fps, !DashboardConfig.fpsRange.contains(fps) { throw ValidationError("--fps must be between 1 and 15") }
    }

    /// What the dashboard draws with: these flags over `config`.
    func settings(_ config: DashboardConfig) throws -> DisplaySettings {
        DisplaySettings(theme: try theme.map(Themes.load) ?? config.loadedTheme,
                        ascii: ascii ?? (config.isSet("ascii") ? config.ascii : nil),
                        mouse: mouse ?? config.mouse, fps: fps ?? config.fps)
    }
}

/// The display settings in effect (flags, else the config file, else the defaults).
struct DisplaySettings {
    var theme: Theme
    /// ASCII drawing (true) or Unicode (false) as chosen; nil: the terminal's locale decides.
    var ascii: Bool?
    var mouse: Bool
    var fps: Int
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
    let cache: PreparationCache?
    let display: DisplaySettings
    let keymap: Keymap
    /// The config file's problem, if it did not load (the defaults are used).
    let configError: InputError?
    let logPath: String
    let reportDir: String
    let maxFrames: Int?

    /// Test hook: CPO_TEST_CRASH_AFTER_FRAMES=N traps after N frames (the crash path of the
    /// terminal hygiene, tested in tmux). Unset: never.
    static let testCrashFrame: Int? = ProcessInfo.processInfo.environment["CPO_TEST_CRASH_AFTER_FRAMES"].flatMap { Int($0) }

    func run() throws {
        let logFolder = (logPath as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: logFolder.isEmpty ? "." : logFolder, withIntermediateDirectories: true)
        let backend: NcursesBackend
        do {
            backend = try NcursesBackend(logPath: logPath, ascii: display.ascii)
        } catch {
            if let configError { ConfigOption.warn(configError) }
            FileHandle.standardError.write(Data("note: no dashboard: \(error.description).\nnote: running headless instead (as `cpo-tui run`; see `cpo-tui run --help`)\n".utf8))
            try HeadlessRun.run(config: config, runDirectory: runDirectory, report: nil, showSamples: false, cache: cache)
            return
        }
        defer { backend.shutdown() }
        var state = DashboardState(theme: display.theme, themes: Themes.cycle(), colors: backend.colors,
                                   glyphs: backend.charset.glyphs, reportDirectory: reportDir)
        state.view.keymap = keymap
        state.view.mouse = display.mouse
        if let configError {
            ConfigOption.warn(configError)   // into the log: the backend took stderr
            state.view.status = ConfigOption.status(configError, log: logPath)
        } else if let note = backend.notes.first {
            state.view.status = note
        }
        let session = LabSession(config: config, runDirectory: runDirectory, cache: cache)
        session.start()
        let reportDir = reportDir
        let loop = DashboardLoop(framesPerSecond: display.fps, maxFrames: maxFrames,
                                 shouldStop: { stopRequested.load(ordering: .relaxed) },
                                 afterFrame: { frames in
                                     if let crashAt = Self.testCrashFrame, frames >= crashAt {
                                         fatalError("CPO_TEST_CRASH_AFTER_FRAMES: a deliberate crash, to test that the terminal is restored")
                                     }
                                 },
                                 exportScreen: { frame, snapshot, theme in
                                     // Into the run directory; with --no-save, the report directory.
                                     ScreenExport.write(frame, palette: ScreenPalette(theme: theme),
                                                        into: snapshot.runDirectory ?? reportDir)
                                 })
        loop.run(&state, backend: backend, source: session)
        backend.shutdown()
        if backend.wasGone || hangupReceived.load(ordering: .relaxed) {
            // Into the log when the terminal is gone (the backend left stderr there).
            // A plain write(2): its failure (EIO, had the terminal gone after all) is ignored.
            let why = hangupReceived.load(ordering: .relaxed) ? "SIGHUP" : "the terminal hung up"
            let note = Array("note: \(why): the dashboard stopped; the run is kept as last saved\n".utf8)
            _ = note.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        session.waitUntilFinished()
        // The screen said SAVE FAILED; the shell is told too, and the exit status is not 0.
        if let dir = runDirectory, let save = session.snapshot().lastSave, !save.succeeded {
            throw CLIError("the last save failed: \(save.message)\n\(dir.path) holds the last complete save; "
                           + "once the problem is fixed, continue with cpo-tui --resume \(dir.path).")
        }
    }
}

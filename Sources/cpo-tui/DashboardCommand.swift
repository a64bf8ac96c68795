import ArgumentParser
import CausalPO
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

    @Option(help: "Theme: dark, light, high-contrast, monochrome, or a theme file (.toml).")
    var theme: String = "dark"

    @Flag(help: "Draw with ASCII only (no box drawing or braille).")
    var ascii = false

    @Option(help: "Frames per second at most (1-15).")
    var fps: Int = 15

    @Option(help: "While the dashboard is up, anything the program prints goes to this file.")
    var log: String = "runs/cpo-tui.log"

    @Option(help: "Directory the report key (r) writes into.")
    var reportDir: String = "reports/latest"

    @Option(help: "Quit after this many frames (for scripted tests).")
    var frames: Int?

    func validate() throws {
        guard (1...15).contains(fps) else { throw ValidationError("--fps must be between 1 and 15") }
    }

    func run() throws {
        let initialTheme = try Themes.load(theme)
        let (cfg, dir) = try saving.plan(options)
        try MainActor.assumeIsolated {
            try DashboardApp(config: cfg, runDirectory: dir, theme: initialTheme, ascii: ascii, fps: fps, logPath: log,
                             reportDir: reportDir, maxFrames: frames).run()
        }
    }
}

/// Finds themes by name (themes/NAME.toml beside the repository or the executable) or path.
enum Themes {
    static let names = ["dark", "light", "high-contrast", "monochrome"]

    static func load(_ nameOrPath: String) throws -> Theme {
        if FileManager.default.fileExists(atPath: nameOrPath) {
            do { return try Theme.load(path: nameOrPath) } catch { throw CLIError(error.description) }
        }
        for folder in ShippedWorlds.searchFolders().map({ URL(fileURLWithPath: $0).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("themes").path }) {
            let path = folder + "/" + nameOrPath + ".toml"
            if FileManager.default.fileExists(atPath: path) {
                do { return try Theme.load(path: path) } catch { throw CLIError(error.description) }
            }
        }
        if nameOrPath == "dark" { return .dark }
        throw CLIError("theme '\(nameOrPath)' not found: use \(names.joined(separator: ", ")) or a theme file path")
    }
}

/// The interactive program: a frame loop on the main thread over a `LabSession` that trains on
/// its own thread. Frames are drawn only when the snapshot, the view or the size changed.
@MainActor
final class DashboardApp {
    let config: LabConfig
    let runDirectory: RunDirectory?
    var view = ViewState()
    let fps: Int
    let logPath: String
    let reportDir: String
    let maxFrames: Int?
    var baseTheme: Theme
    let forceASCII: Bool

    /// Test hook: CPO_TEST_CRASH_AFTER_FRAMES=N traps after N frames (the crash path of the
    /// terminal hygiene, tested in tmux). Unset: never.
    static let testCrashFrame: Int? = ProcessInfo.processInfo.environment["CPO_TEST_CRASH_AFTER_FRAMES"].flatMap { Int($0) }

    init(config: LabConfig, runDirectory: RunDirectory?, theme: Theme, ascii: Bool, fps: Int, logPath: String,
         reportDir: String, maxFrames: Int?) {
        self.config = config
        self.runDirectory = runDirectory
        self.fps = fps
        self.logPath = logPath
        self.reportDir = reportDir
        self.maxFrames = maxFrames
        self.baseTheme = theme
        self.forceASCII = ascii
    }

    func run() throws {
        try? FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent.isEmpty ? "." : (logPath as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        guard let backend = NcursesBackend(logPath: logPath) else {
            FileHandle.standardError.write(Data("note: no usable terminal (not a TTY, or TERM unset/unknown/dumb): running headless; see `cpo-tui run --help`\n".utf8))
            try HeadlessRun.run(config: config, runDirectory: runDirectory, report: nil, showSamples: false)
            return
        }
        defer { backend.shutdown() }
        view.theme = baseTheme.degraded(toColors: backend.colors)
        view.glyphs = backend.utf8 && !forceASCII ? .unicode : .ascii
        let session = LabSession(config: config, runDirectory: runDirectory)
        session.start()
        var lastVersion = -1
        var dirty = true
        var lastSize = (width: 0, height: 0)
        var frames = 0
        let frameMS = Int32(1000 / fps)
        while !stopRequested.load(ordering: .relaxed) {
            let snap = session.snapshot()
            let size = backend.size
            if size != lastSize { backend.invalidate(); dirty = true; lastSize = size }
            if snap.version != lastVersion || dirty {
                backend.present(DashboardView.render(snap, view, width: size.width, height: size.height))
                lastVersion = snap.version
                dirty = false
                frames += 1
                if let maxFrames, frames >= maxFrames { break }
                if let crashAt = Self.testCrashFrame, frames >= crashAt {
                    fatalError("CPO_TEST_CRASH_AFTER_FRAMES: a deliberate crash, to test that the terminal is restored")
                }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            guard let key = backend.readKey(timeoutMS: frameMS) else { dirty = true; continue }   // resize
            if let key {
                if handle(key, snap, session) { break }
                dirty = true
            }
            // Keep to the frame budget even when keys arrive quickly.
            let spent = Int32((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
            if spent < frameMS && key == nil { continue }
        }
        session.send(.cancel)
        backend.shutdown()
        session.waitUntilFinished()
    }

    /// Applies one key; returns true to quit.
    func handle(_ key: Key, _ snap: LabSnapshot, _ session: LabSession) -> Bool {
        let methods = snap.methods.map(\.method)
        let selected = methods.isEmpty ? nil : methods[min(view.selectedMethod, methods.count - 1)]
        if var draft = view.promptDraft {
            switch key {
            case .enter:
                if let m = selected { session.send(.generate(m, prefix: draft)) }
                view.promptDraft = nil
                view.focus = .generations
            case .escape: view.promptDraft = nil
            case .backspace: if !draft.isEmpty { draft.removeLast() }; view.promptDraft = draft
            case .char(let c): draft.append(c); view.promptDraft = draft
            default: break
            }
            return false
        }
        guard let action = view.keymap.action(for: key) else { return false }
        view.status = ""
        switch action {
        case .quit: return true
        case .stepAll: session.send(.stepEpoch(nil))
        case .stepSelected: if let m = selected { session.send(.stepEpoch(m)) }
        case .runPause: session.send(snap.phase == .running ? .pause : .run)
        case .selectNext: view.selectedMethod = min(max(0, methods.count - 1), view.selectedMethod + 1)
        case .selectPrevious: view.selectedMethod = max(0, view.selectedMethod - 1)
        case .focusNext: view.focus = Panel(rawValue: (view.focus.rawValue + 1) % Panel.allCases.count)!
        case .focusPrevious: view.focus = Panel(rawValue: (view.focus.rawValue + Panel.allCases.count - 1) % Panel.allCases.count)!
        case .zoom: view.zoomed.toggle()
        case .viewDashboard: view.view = .dashboard
        case .viewCompare: view.view = .compare
        case .viewData: view.view = .data
        case .help: view.showHelp.toggle()
        case .cycleTheme:
            let i = (Themes.names.firstIndex(of: view.theme.name) ?? -1) + 1
            let name = Themes.names[i % Themes.names.count]
            if let t = try? Themes.load(name) { view.theme = t.degraded(toColors: max(1, view.theme == .dark ? 256 : 256)) }
            view.status = "theme \(view.theme.name)"
        case .toggleASCII: view.glyphs = view.glyphs == .ascii ? .unicode : .ascii
        case .writeReport:
            session.send(.writeReport(reportDir))
            view.status = "writing the report to \(reportDir)/"
        case .saveRun:
            session.send(.save)
            view.status = runDirectory.map { "saving the run to \($0.path)/" } ?? "this run is not saved (--no-save)"
        case .resample: if let m = selected { session.send(.generate(m, prefix: "")) }
        case .editPrompt: view.promptDraft = ""
        }
        return false
    }
}

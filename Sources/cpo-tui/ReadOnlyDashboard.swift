import Dashboard
import Foundation
import Lab
import OutcomeData

/// The dashboard with the read-only keys, for `watch` and `compare`: the config file's display
/// settings under the display flags and its keys less the training ones; a frame printed as
/// text, or the terminal's frame loop on a source that drops every command.
struct ReadOnlyDashboard {
    let shown: DisplaySettings
    let keymap: Keymap
    /// The config file's problem, if it did not load (the defaults are used; said on stderr).
    let configError: InputError?

    /// `showing` is what the hint bar says is shown read-only ("watching", "comparing").
    init(display: DisplayOptions, configFile: ConfigOption, showing: String) throws {
        let (config, configError) = configFile.load()
        if let configError { ConfigOption.warn(configError) }
        shown = try display.settings(config)
        keymap = config.keymap.withoutTrainingKeys(showing: showing)
        self.configError = configError
    }

    /// One frame of `snapshot` on the `kind` view, as plain text (clock times in UTC), method
    /// `selected` selected (nil: the first causal one, as the dashboard starts).
    func text(_ snapshot: LabSnapshot, view kind: ViewKind, selected: Int? = nil, width: Int, height: Int) -> String {
        var view = ViewState()
        view.view = kind
        view.selectedMethod = selected
        view.keymap = keymap
        view.glyphs = shown.ascii == true ? .ascii : .unicode
        view.timeZone = TimeZone(identifier: "UTC") ?? .current
        return DashboardView.render(snapshot, view, width: width, height: height).plainText()
    }

    /// The dashboard on `source` in the terminal, on the `kind` view with method `selected`
    /// selected (nil: the first causal one), until q. The export key
    /// writes into `exportDirectory()`. Without a terminal: an error naming `command`, ending in
    /// `otherwise` (what to pass instead).
    func run(_ command: String, otherwise: String, view kind: ViewKind, selected: Int? = nil, frames: Int?,
             exportDirectory: @escaping @Sendable () -> String, source: sending some SnapshotSource) throws {
        try MainActor.assumeIsolated {
            let backend: NcursesBackend
            do {
                backend = try NcursesBackend(logPath: "/dev/null", ascii: shown.ascii)
            } catch {
                throw CLIError("\(command) needs a terminal: \(error); \(otherwise)")
            }
            defer { backend.shutdown() }
            var state = DashboardState(theme: shown.theme, themes: Themes.cycle(), colors: backend.colors,
                                       glyphs: backend.charset.glyphs)
            state.view.view = kind
            state.view.selectedMethod = selected
            state.view.keymap = keymap
            state.view.mouse = shown.mouse
            if let configError {
                state.view.status = ConfigOption.status(configError, log: nil)
            } else if let note = backend.notes.first {
                state.view.status = note
            }
            DashboardLoop(framesPerSecond: shown.fps, maxFrames: frames, shouldStop: { stopRequested.load(ordering: .relaxed) },
                          exportScreen: { frame, _, theme in
                              ScreenExport.write(frame, palette: ScreenPalette(theme: theme), into: exportDirectory())
                          })
                .run(&state, backend: backend, source: source)
        }
    }
}

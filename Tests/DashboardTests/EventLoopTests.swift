import CausalPO
import Dashboard
import Lab
import Testing

/// A terminal in memory: it plays a script of events and keeps every frame drawn.
@MainActor
final class FakeTerminal: TerminalBackend {
    enum Step {
        case key(Key)
        case mouse(MouseEvent)
        /// The terminal becomes `width` x `height` and reports a resize.
        case resize(Int, Int)
        case timeout
        /// Runs `change` (e.g. the lab publishes a new snapshot), then reports a timeout.
        case meanwhile(() -> Void)
    }

    var size: TerminalSize
    let colors: Int
    private var script: [Step]
    /// Every frame drawn, and how many cells each changed against the one before.
    private(set) var frames: [CellBuffer] = []
    private(set) var changedCells: [Int] = []
    /// The timeouts the loop asked for.
    private(set) var waits: [Int] = []
    /// True once the script is played out (every later event is a timeout).
    private(set) var finished = false

    init(_ script: [Step], width: Int = 120, height: Int = 40, colors: Int = 256) {
        self.script = script
        size = TerminalSize(width: width, height: height)
        self.colors = colors
    }

    func draw(_ frame: CellBuffer) {
        changedCells.append(frame.diff(from: frames.last ?? CellBuffer(width: 0, height: 0)).count)
        frames.append(frame)
    }

    func nextEvent(timeout milliseconds: Int) -> InputEvent {
        waits.append(milliseconds)
        guard !script.isEmpty else {
            finished = true
            return .timeout
        }
        switch script.removeFirst() {
        case .key(let k): return .key(k)
        case .mouse(let m): return .mouse(m)
        case let .resize(w, h):
            size = TerminalSize(width: w, height: h)
            return .resize
        case .timeout: return .timeout
        case .meanwhile(let change):
            change()
            return .timeout
        }
    }

    /// Every mouse on/off the loop asked for, in order.
    private(set) var mouseSettings: [Bool] = []
    func setMouse(_ on: Bool) { mouseSettings.append(on) }

    var lastText: String { frames.last?.plainText() ?? "" }
}

/// A lab that records the commands it gets; `publish` changes its snapshot.
final class FakeLab: SnapshotSource {
    private(set) var current = Lab3.snapshot()
    private(set) var commands: [LabCommand] = []

    func snapshot() -> LabSnapshot { current }
    func send(_ command: LabCommand) { commands.append(command) }

    func publish(_ change: (inout LabSnapshot) -> Void) {
        change(&current)
        current.version += 1
    }
}

/// The event loop, driven by scripted events on a fake terminal: frames and commands.
@MainActor
@Suite struct EventLoopTests {
    func run(_ terminal: FakeTerminal, _ lab: FakeLab, state: inout DashboardState, maxFrames: Int? = nil) -> Int {
        DashboardLoop(framesPerSecond: 10, maxFrames: maxFrames, shouldStop: { terminal.finished })
            .run(&state, backend: terminal, source: lab)
    }

    @Test func aSessionOfKeys() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.key(.char("n")), .key(.char("2")), .resize(90, 28), .key(.down), .key(.char("s")),
                                     .key(.char("q")), .key(.char("n"))])
        var state = DashboardState()
        let frames = run(terminal, lab, state: &state)
        // n, s (↓ from CPO, where the selection starts, to DR-CPO), then q ends the loop (the n
        // after it is never read) and the lab is cancelled.
        #expect(lab.commands == [.stepEpoch(nil), .stepEpoch(.drCPO), .cancel])
        #expect(state.quitRequested && !terminal.finished)
        #expect(frames == terminal.frames.count && frames == 6)
        let texts = terminal.frames.map { $0.plainText() }
        #expect(texts[0].contains("╭─ Methods") && texts[0].contains("| dashboard › Methods (CPO) | ready — n: train one epoch"))
        #expect(texts[2].contains("Compare: all methods") && terminal.frames[2].width == 120)
        #expect(terminal.frames[3].width == 90 && terminal.frames[3].height == 28 && texts[3].contains("Compare"))
        #expect(terminal.waits.allSatisfy { $0 == 100 })
    }

    @Test func framesAreDrawnOnlyWhenSomethingChanged() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.timeout, .timeout, .meanwhile { lab.publish { $0.phase = .running } }, .timeout,
                                     .resize(120, 40), .key(.char("u")), .timeout])
        var state = DashboardState()
        _ = run(terminal, lab, state: &state)
        // The first frame; the new snapshot; a resize (even to the same size) and a key (even
        // an unbound one) redraw. Timeouts over an unchanged snapshot do not.
        #expect(terminal.frames.count == 4)
        #expect(terminal.frames[1].line(0).contains("| running"))
        #expect(terminal.changedCells[2] == 0 && terminal.changedCells[3] == 0)
        #expect(lab.commands == [.cancel] && terminal.finished)
    }

    @Test func tooSmallThenBigEnough() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.resize(60, 20), .resize(80, 24)])
        var state = DashboardState()
        _ = run(terminal, lab, state: &state)
        #expect(terminal.frames.map(\.width) == [120, 60, 80])
        #expect(terminal.frames[1].plainText().contains("terminal too small (60x20)"))
        #expect(terminal.frames[2].plainText().contains("Methods"))
    }

    /// `t` on an 8-colour terminal draws the next theme in 8 colours.
    @Test func themesFollowTheTerminalsColours() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.key(.char("t")), .key(.char("t"))], colors: 8)
        var state = DashboardState()
        _ = run(terminal, lab, state: &state)
        #expect(state.view.theme == Theme.highContrast.degraded(toColors: 8))
        for frame in terminal.frames {
            let styles = (0..<frame.height).flatMap { y in (0..<frame.width).map { frame[$0, y].style } }
            #expect(styles.allSatisfy { ($0.fg.index ?? 0) < 8 && ($0.bg.index ?? 0) < 8 })
        }
        #expect(terminal.frames[1].line(0).contains("theme light"))
        #expect(terminal.frames[2].line(0).contains("theme high-contrast"))
    }

    @Test func maxFramesAndStopEndTheLoop() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.key(.char("2")), .key(.char("3")), .key(.char("1"))])
        var state = DashboardState()
        #expect(run(terminal, lab, state: &state, maxFrames: 2) == 2)
        #expect(state.view.view == .compare && lab.commands == [.cancel])

        let stopped = FakeLab()
        var s = DashboardState()
        let frames = DashboardLoop(shouldStop: { true }).run(&s, backend: FakeTerminal([]), source: stopped)
        #expect(frames == 0 && stopped.commands == [.cancel])
    }

    @Test func promptTypedInTheLoop() {
        let lab = FakeLab()
        let terminal = FakeTerminal([.key(.char("p")), .key(.char("T")), .key(.char("q")), .key(.enter)])
        var state = DashboardState()
        _ = run(terminal, lab, state: &state)
        #expect(terminal.frames[3].line(39).hasPrefix("prompt prefix (Enter: sample, Esc: cancel): Tq_"))
        #expect(lab.commands == [.generate(.cpo, prefix: "Tq"), .cancel])
        #expect(!terminal.lastText.contains("prompt prefix"))
    }
}

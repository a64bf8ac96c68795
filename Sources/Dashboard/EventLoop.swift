import Lab

/// Where the event loop gets the picture to draw and sends what the user asks for: a
/// `LabSession` (training on its own thread; the executable declares the conformance, so
/// the dashboard sees only snapshots and commands), or a fake in tests.
public protocol SnapshotSource: AnyObject {
    /// The latest picture of the lab.
    func snapshot() -> LabSnapshot
    /// Queues a command for the lab.
    func send(_ command: LabCommand)
}

/// The dashboard's frame loop: draws the source's snapshot through a terminal backend, waits
/// for an event, applies keys to the state and performs their effects. A frame is drawn only
/// when the snapshot, the state or the size changed, and at most once per frame interval
/// while nothing but the snapshot changes. It ends on the quit key, when `shouldStop` says so
/// (a signal, a closed terminal) or after `maxFrames` frames, and then sends `.cancel` to the
/// source.
public struct DashboardLoop {
    /// The frame rate cap: the loop waits up to 1/fps seconds for an event between frames.
    public var framesPerSecond: Int
    /// Stop after this many frames (scripted tests); nil: never.
    public var maxFrames: Int?
    /// Asked before every frame; true ends the loop.
    public var shouldStop: () -> Bool
    /// Called after each frame is drawn, with the number of frames so far.
    public var afterFrame: (Int) -> Void
    /// Writes the screen (the last frame drawn, in the theme it was drawn in) on the export key;
    /// returns the status line to show ("screen written to ...", or what went wrong).
    public var exportScreen: (CellBuffer, LabSnapshot, Theme) -> String

    public init(framesPerSecond: Int = 15, maxFrames: Int? = nil, shouldStop: @escaping () -> Bool = { false },
                afterFrame: @escaping (Int) -> Void = { _ in },
                exportScreen: @escaping (CellBuffer, LabSnapshot, Theme) -> String = { _, _, _ in "export is not available here" }) {
        self.framesPerSecond = framesPerSecond
        self.maxFrames = maxFrames
        self.shouldStop = shouldStop
        self.afterFrame = afterFrame
        self.exportScreen = exportScreen
    }

    /// Runs the dashboard on `backend` until it ends; returns the number of frames drawn. The
    /// theme of `state` is degraded to the backend's colours first.
    @MainActor
    @discardableResult
    public func run(_ state: inout DashboardState, backend: some TerminalBackend, source: some SnapshotSource) -> Int {
        state.setColors(backend.colors)
        backend.setMouse(state.view.mouse)
        var lastFrame: CellBuffer?
        let frameMS = 1000 / max(1, framesPerSecond)
        var drawn: (version: Int, size: TerminalSize)?
        var dirty = true
        var frames = 0
        events: while !shouldStop() {
            let snapshot = source.snapshot()
            let size = backend.size
            if dirty || drawn?.version != snapshot.version || drawn?.size != size {
                let frame = DashboardView.render(snapshot, state.view, width: size.width, height: size.height)
                backend.draw(frame)
                lastFrame = frame
                drawn = (snapshot.version, size)
                dirty = false
                frames += 1
                if let maxFrames, frames >= maxFrames { break }
                afterFrame(frames)
            }
            switch backend.nextEvent(timeout: frameMS) {
            case .timeout:
                continue
            case .resize:
                dirty = true
            case .key(let key):
                state.screen = size
                for effect in state.handle(key, snapshot: snapshot) {
                    switch effect {
                    case .send(let command): source.send(command)
                    case .quit: break events
                    case .exportScreen:
                        if let lastFrame { state.view.status = exportScreen(lastFrame, snapshot, state.view.theme) }
                    case .setMouse(let on): backend.setMouse(on)
                    }
                }
                dirty = true
            case .mouse(let event):
                state.handleMouse(event, snapshot: snapshot, size: size)
                dirty = true
            }
        }
        source.send(.cancel)
        return frames
    }
}

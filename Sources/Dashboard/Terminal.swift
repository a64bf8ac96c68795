/// What the event loop needs from a terminal, and the one kind of event it gets from it.
/// The ncurses backend of the executable implements `TerminalBackend`; tests use an in-memory
/// one, so the loop runs (and is tested) without a terminal.

/// Everything the event loop receives from the terminal (bottom's single event enum): a key,
/// a change of size, or nothing within the time it waited.
public enum InputEvent: Hashable, Sendable {
    case key(Key)
    /// A click or a wheel turn (only while the mouse is on).
    case mouse(MouseEvent)
    /// The terminal changed size; the loop measures it again and redraws.
    case resize
    /// Nothing arrived in time (an unknown key counts as nothing).
    case timeout
}

/// What the mouse did, at a cell (column `x`, row `y`, from the top left).
public struct MouseEvent: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// The left button pressed (or clicked).
        case click
        case wheelUp, wheelDown
    }

    public var kind: Kind
    public var x: Int
    public var y: Int

    public init(_ kind: Kind, x: Int, y: Int) {
        self.kind = kind
        self.x = x
        self.y = y
    }
}

/// A terminal's size in cells.
public struct TerminalSize: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)" }
}

/// A terminal as the event loop sees it. Implementations own the screen on the main thread.
@MainActor
public protocol TerminalBackend: AnyObject {
    /// The size now (measured when asked, so a resize shows up on the next frame).
    var size: TerminalSize { get }
    /// How many colours it shows: 256 (or more), 8, or 0 for none. Themes are degraded to it.
    var colors: Int { get }
    /// Shows `frame`, writing only the cells that differ from the frame drawn before it.
    func draw(_ frame: CellBuffer)
    /// The next event, waiting at most `milliseconds` for one.
    func nextEvent(timeout milliseconds: Int) -> InputEvent
    /// Reports clicks and wheel turns as `.mouse` events (true) or leaves the mouse to the
    /// terminal, whose own text selection then works (false).
    func setMouse(_ on: Bool)
}

import CNcursesw
import Dashboard
import Foundation

/// The only code that talks to the terminal: curses on the main thread. It diffs the frame
/// against the last one and writes only what changed.
@MainActor
final class NcursesBackend: TerminalBackend {
    private var screen: OpaquePointer?
    private var ttyOut: UnsafeMutablePointer<FILE>?
    private var savedStdout: Int32 = -1, savedStderr: Int32 = -1
    /// Standard output and error go to the log.
    private var logging = false
    private var last: CellBuffer?
    private var pairs: [Int: Int16] = [:]   // (fg, bg) -> pair
    private(set) var colors = 0
    /// What the terminal shows (from the locale) and the glyphs to start with.
    let charset: TerminalCharset
    /// What the user should know about how the terminal was set up (an unknown TERM drawn as
    /// another, a locale that is not UTF-8); empty: nothing.
    private(set) var notes: [String] = []
    /// Every character sent is ASCII (`TerminalCharset.asciiOnly`).
    private let asciiOnly: Bool

    /// Terminal types tried, in order, when TERM names one the terminfo database lacks (as over
    /// ssh from a newer terminal): nearly every terminal today understands xterm's sequences.
    nonisolated static let fallbackTerms = ["xterm-256color", "xterm", "vt100"]

    /// Takes over the terminal, or says why there is none usable (no TTY, TERM unset or dumb,
    /// no terminfo entry for TERM nor any fallback). With `logPath`, everything the rest of the
    /// program prints goes to that file while the UI is up (a stray print would land in the
    /// middle of a panel). `ascii` is the user's choice of glyphs (nil: the locale decides).
    init(logPath: String?, ascii: Bool?) throws(TerminalUnavailable) {
        guard isatty(0) == 1, isatty(1) == 1 else { throw .notATerminal }
        let environment = ProcessInfo.processInfo.environment
        let term = environment["TERM"] ?? ""
        if term.isEmpty { throw .termUnset }
        if term == "dumb" { throw .dumb }
        // The user's locale says what the terminal shows; curses itself needs a UTF-8 LC_CTYPE
        // to send anything but ASCII (for --no-ascii on a terminal the locale undersells).
        let codeset = cn_user_codeset().map { String(cString: $0) }
        let cursesUTF8 = cn_use_utf8_ctype() != 0
        charset = TerminalCharset(codeset: codeset, cursesUTF8: cursesUTF8, asciiChoice: ascii, environment: environment)
        asciiOnly = charset.asciiOnly
        installSignalHandlers()
        // Curses writes to a duplicate of the terminal; fds 1 and 2 go to the log.
        let ttyFD = dup(1)
        guard ttyFD >= 0, let out = fdopen(ttyFD, "w") else { throw .notATerminal }
        var opened = newterm(nil, out, cn_stdin())
        if opened == nil {
            for candidate in Self.fallbackTerms where candidate != term {
                opened = newterm(candidate, out, cn_stdin())
                if opened != nil {
                    notes.append("TERM=\(term) is not in the terminfo database: drawing as \(candidate); "
                                 + "set TERM to your terminal's type (`infocmp` lists what is known)")
                    break
                }
            }
        }
        guard let scr = opened else {
            fclose(out)
            throw .noTerminfo(term)
        }
        ttyOut = out
        screen = scr
        _ = set_term(scr)
        cursesActive.store(true, ordering: .relaxed)
        if let note = charset.note { notes.append(note) }
        if let logPath {
            fflush(cn_stdout())
            savedStdout = dup(1)
            savedStderr = dup(2)
            // O_NONBLOCK: a log path that is a named pipe with no reader must not block the start.
            let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0o644)
            if fd >= 0 {
                dup2(fd, 1)
                dup2(fd, 2)
                close(fd)
                logging = true
            }
        }
        if logging {
            for note in notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        }
        _ = cbreak()
        _ = noecho()
        _ = keypad(cn_stdscr(), true)
        _ = curs_set(0)
        _ = set_escdelay(25)
        if has_colors() {
            _ = start_color()
            _ = use_default_colors()
            colors = Int(cn_colors())
        }
    }

    /// The terminal's size. Asks the kernel each frame and tells curses when it changed, so a
    /// resize is picked up even when SIGWINCH does not reach curses (e.g. under some
    /// multiplexers).
    var size: TerminalSize {
        var rows: Int32 = 0, cols: Int32 = 0
        if let out = ttyOut, cn_winsize(fileno(out), &rows, &cols) == 0,
           rows != getmaxy(cn_stdscr()) || cols != getmaxx(cn_stdscr()) {
            _ = resizeterm(rows, cols)
            last = nil
        }
        return TerminalSize(width: Int(getmaxx(cn_stdscr())), height: Int(getmaxy(cn_stdscr())))
    }

    /// Draws `frame`, writing only the cells that changed since the last frame.
    func draw(_ frame: CellBuffer) {
        let changes: [(x: Int, y: Int, cell: Cell)]
        if let last, last.width == frame.width, last.height == frame.height {
            changes = frame.diff(from: last)
        } else {
            _ = erase()
            changes = frame.diff(from: CellBuffer(width: 0, height: 0))
        }
        for (x, y, cell) in changes {
            var attrs = cn_A_NORMAL()
            if cell.style.bold { attrs |= cn_A_BOLD() }
            if cell.style.dim { attrs |= cn_A_DIM() }
            if cell.style.reverse { attrs |= cn_A_REVERSE() }
            if cell.style.underline { attrs |= cn_A_UNDERLINE() }
            let pair = colorPair(cell.style)
            var wstr: [wchar_t] = [0, 0]
            let char = asciiOnly ? TerminalCharset.asciiFallback(cell.char) : cell.char
            wstr[0] = wchar_t(bitPattern: char.unicodeScalars.first?.value ?? 32)
            _ = cn_put_wch(Int32(y), Int32(x), &wstr, attrs, Int32(pair))
        }
        _ = refresh()
        last = frame
    }

    private func colorPair(_ s: Style) -> Int16 {
        guard colors > 0 else { return 0 }
        let fg = s.fg.index.map { min($0, colors - 1) } ?? -1
        let bg = s.bg.index.map { min($0, colors - 1) } ?? -1
        if fg < 0 && bg < 0 { return 0 }
        let key = (fg + 1) * 1024 + (bg + 1)
        if let p = pairs[key] { return p }
        let next = Int16(pairs.count + 1)
        guard next < 256, Int(next) < Int(cn_color_pairs()) else { return 0 }
        _ = init_pair(next, Int16(fg), Int16(bg))
        pairs[key] = next
        return next
    }

    /// The next event, waiting at most `milliseconds`. Keys curses does not name (and
    /// function keys beyond F12) count as a timeout: they do nothing.
    func nextEvent(timeout milliseconds: Int) -> InputEvent {
        if jobControl() { return .resize }
        let waitMS = Int32(clamping: max(0, milliseconds))
        timeout(waitMS)
        var ch: wint_t = 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = get_wch(&ch)
        if r == ERR {
            // A signal cut the wait short (Ctrl-Z, fg): deal with it now.
            if jobControl() { return .resize }
            // ERR long before the timeout means input is gone (terminal closed): stop rather
            // than spin.
            if waitMS > 5 && DispatchTime.now().uptimeNanoseconds - t0 < 1_000_000 && Self.terminalGone() {
                stopRequested.store(true, ordering: .relaxed)
            }
            return .timeout
        }
        if r == KEY_CODE_YES {
            if Int32(ch) == KEY_RESIZE {
                last = nil   // repaint everything at the new size
                return .resize
            }
            if Int32(ch) == KEY_MOUSE { return Self.mouseEvent() }
            return Self.functionKey(Int32(ch)).map(InputEvent.key) ?? .timeout
        }
        return Self.characterKey(ch).map(InputEvent.key) ?? .timeout
    }

    /// A key curses reports as a key code (arrows, Shift-Tab, F1-F12, ...).
    private static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_BTAB: return .backTab
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_F0...(KEY_F0 + 12): return .f(Int(code - KEY_F0))
        default: return nil
        }
    }

    /// A key curses reports as a character (Tab, Enter, Esc, Ctrl-letters, text).
    private static func characterKey(_ ch: wint_t) -> Key? {
        switch ch {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 127, 8: return .backspace
        case 1...26: return .ctrl(Character(UnicodeScalar(UInt8(ch) + 96)))
        default: return UnicodeScalar(UInt32(ch)).map { .char(Character($0)) }
        }
    }

    /// Mouse reporting on (clicks and the wheel become `.mouse` events) or off (the terminal
    /// keeps the mouse, and its own text selection works).
    func setMouse(_ on: Bool) {
        guard screen != nil else { return }
        cn_set_mouse(on ? 1 : 0)
    }

    /// The mouse event curses queued: a press of the left button or a wheel turn, at its cell;
    /// anything else (a release, other buttons) counts as nothing.
    private static func mouseEvent() -> InputEvent {
        var x: Int32 = 0, y: Int32 = 0
        let kind: MouseEvent.Kind
        switch cn_get_mouse(&x, &y) {
        case 1: kind = .click
        case 2: kind = .wheelUp
        case 3: kind = .wheelDown
        default: return .timeout
        }
        return .mouse(MouseEvent(kind, x: Int(x), y: Int(y)))
    }

    /// Ctrl-Z and `fg`, between frames on the main thread; true when the screen must be drawn
    /// again in full (the caller reports a resize, so the loop redraws).
    private func jobControl() -> Bool {
        if suspendRequested.exchange(false, ordering: .relaxed) {
            // The terminal as the shell gave it (cooked mode, cursor, mouse off), then stop
            // every thread until SIGCONT. The next refresh puts curses back.
            _ = endwin()
            if let out = ttyOut { fflush(out) }
            stopProcess()
            continued.store(false, ordering: .relaxed)
            repaintAll()
            return true
        }
        if continued.exchange(false, ordering: .relaxed) {
            // Went on after a stop curses did not see (SIGSTOP): the shell may have reset the
            // terminal's modes and drawn over the screen.
            _ = reset_prog_mode()
            repaintAll()
            return true
        }
        return false
    }

    /// The next frame clears the screen and draws every cell.
    private func repaintAll() {
        _ = clearok(cn_stdscr(), true)
        last = nil
    }

    /// Whether the terminal went away (hung up, closed): standard input reports a hang-up or an
    /// error, or is no longer a terminal.
    static func terminalGone() -> Bool {
        var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, 0) > 0 && p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return true }
        return isatty(0) == 0
    }

    /// Whether the terminal had gone away (hung up) when the backend shut down.
    private(set) var wasGone = false

    /// Gives the terminal back (idempotent). When the terminal has gone away nothing more is
    /// written to it (a write would fail with EIO): standard output and error stay on the log
    /// (or go to /dev/null), where anything printed later can do no harm.
    func shutdown() {
        guard let scr = screen else { return }
        let gone = Self.terminalGone()
        wasGone = gone
        if !gone {
            cn_set_mouse(0)   // the terminal's mouse reporting off, whatever state the dashboard left
            _ = endwin()
        }
        delscreen(scr)
        screen = nil
        cursesActive.store(false, ordering: .relaxed)
        if let out = ttyOut { fclose(out); ttyOut = nil }
        fflush(cn_stdout())
        if gone {
            if !logging {
                let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
                if null >= 0 {
                    dup2(null, 1)
                    dup2(null, 2)
                    close(null)
                }
            }
        } else if savedStdout >= 0 {
            dup2(savedStdout, 1)
            dup2(savedStderr, 2)
        }
        if savedStdout >= 0 {
            close(savedStdout)
            close(savedStderr)
            savedStdout = -1
        }
        logging = false
    }
}

/// Why the dashboard cannot use this terminal, and what the user can do about it.
enum TerminalUnavailable: Error, CustomStringConvertible {
    case notATerminal
    case termUnset
    case dumb
    case noTerminfo(String)

    var description: String {
        switch self {
        case .notATerminal:
            "standard input or output is not a terminal (a pipe or a file); run it in a terminal for the dashboard"
        case .termUnset:
            "TERM is not set; set it to your terminal's type for the dashboard, e.g. export TERM=xterm-256color"
        case .dumb:
            "TERM=dumb cannot move the cursor; run it in a full terminal, or set TERM to its type (e.g. TERM=xterm-256color)"
        case .noTerminfo(let term):
            "neither TERM=\(term) nor \(NcursesBackend.fallbackTerms.joined(separator: ", ")) is in the terminfo database; "
                + "install it (Debian: apt-get install ncurses-base ncurses-term) or set TERM to a type `infocmp` knows"
        }
    }
}

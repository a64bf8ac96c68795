import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import CNcursesw

/// Set by SIGINT/SIGTERM/SIGHUP; the frame loop sees it within one frame and shuts down cleanly.
/// (A C signal handler may only touch lock-free state: it lives here, not in main.swift.)
let stopRequested = Atomic<Bool>(false)

/// Set by SIGHUP: the terminal went away (or someone sent the signal). The backend then checks
/// whether the terminal is really gone before it writes to it again.
let hangupReceived = Atomic<Bool>(false)

/// Set by SIGTSTP (Ctrl-Z): the backend gives the terminal back and stops the process, on the
/// main thread, between frames.
let suspendRequested = Atomic<Bool>(false)

/// Set by SIGCONT: the process went on after a stop (`fg`, `kill -CONT`), and the shell may have
/// changed the terminal's modes and drawn over the screen: the backend repaints everything.
let continued = Atomic<Bool>(false)

/// True while curses owns the terminal, so a crash handler knows to give it back.
let cursesActive = Atomic<Bool>(false)

private nonisolated(unsafe) var previousCrashActions: [Int32: sigaction] = [:]

/// Sets `handler` for `signals` (no flags but `flags`).
private func handle(_ signals: [Int32], flags: Int32 = 0, _ handler: @convention(c) (Int32) -> Void) {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = handler
    sigemptyset(&action.sa_mask)
    action.sa_flags = flags
    for sig in signals { sigaction(sig, &action, nil) }
}

/// SIGINT/SIGTERM/SIGHUP request a clean stop; SIGTSTP (Ctrl-Z) a suspend and SIGCONT a full
/// repaint, both carried out by the backend on the main thread (curses is not
/// async-signal-safe, and a handler may run on the training thread); crashes (SIGILL for Swift
/// traps on x86_64, SEGV, BUS, ABRT, FPE, TRAP) restore the terminal and then chain to the
/// previous handler (Swift's backtracer), so the backtrace prints on a sane screen. Install
/// before `newterm`: curses then leaves these signals to us (it still handles SIGWINCH).
func installSignalHandlers() {
    handle([SIGINT, SIGTERM]) { _ in stopRequested.store(true, ordering: .relaxed) }
    handle([SIGHUP]) { _ in
        hangupReceived.store(true, ordering: .relaxed)
        stopRequested.store(true, ordering: .relaxed)
    }
    // Ctrl-Z only where it would stop the process now: a shell without job control starts its
    // commands with SIGTSTP ignored, and then it stays ignored (as curses itself does).
    var tstp = sigaction()
    if sigaction(SIGTSTP, nil, &tstp) == 0 && tstp.__sigaction_handler.sa_handler == nil {
        installSuspendHandler()
    }
    let restart = Int32(bitPattern: UInt32(truncatingIfNeeded: SA_RESTART))
    handle([SIGCONT], flags: restart) { _ in continued.store(true, ordering: .relaxed) }
    for sig in [SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGTRAP] {
        var old = sigaction()
        var crash = sigaction()
        crash.__sigaction_handler.sa_handler = { sig in
            if cursesActive.load(ordering: .relaxed) {
                _ = endwin()
                cursesActive.store(false, ordering: .relaxed)
            }
            // Re-install what was there before (Swift's backtracer or the default) and return:
            // the faulting instruction runs again and the previous handler takes it from there.
            if var previous = previousCrashActions[sig] {
                sigaction(sig, &previous, nil)
            } else {
                signal(sig, SIG_DFL)
            }
        }
        sigemptyset(&crash.sa_mask)
        crash.sa_flags = Int32(bitPattern: UInt32(truncatingIfNeeded: SA_RESETHAND))
        sigaction(sig, &crash, &old)
        previousCrashActions[sig] = old
    }
}

/// SIGTSTP sets `suspendRequested` (again after a suspend, which stops with the default action).
func installSuspendHandler() {
    handle([SIGTSTP], flags: Int32(bitPattern: UInt32(truncatingIfNeeded: SA_RESTART))) { _ in
        suspendRequested.store(true, ordering: .relaxed)
    }
}

/// Stops the whole process as Ctrl-Z would have (the default action of SIGTSTP), until
/// SIGCONT; then SIGTSTP is ours again.
func stopProcess() {
    var dfl = sigaction()
    dfl.__sigaction_handler.sa_handler = nil   // SIG_DFL
    sigemptyset(&dfl.sa_mask)
    sigaction(SIGTSTP, &dfl, nil)
    kill(getpid(), SIGTSTP)
    installSuspendHandler()
}

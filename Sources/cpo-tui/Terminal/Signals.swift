import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import CNcursesw

/// Set by SIGINT/SIGTERM; the frame loop sees it within one frame and shuts down cleanly.
/// (A C signal handler may only touch lock-free state: it lives here, not in main.swift.)
let stopRequested = Atomic<Bool>(false)

/// True while curses owns the terminal, so a crash handler knows to give it back.
let cursesActive = Atomic<Bool>(false)

private nonisolated(unsafe) var previousCrashActions: [Int32: sigaction] = [:]

/// SIGINT/SIGTERM request a clean stop; crashes (SIGILL for Swift traps on x86_64, SEGV, BUS,
/// ABRT, FPE, TRAP) restore the terminal and then chain to the previous handler (Swift's
/// backtracer), so the backtrace prints on a sane screen. Install before `newterm`.
func installSignalHandlers() {
    var stop = sigaction()
    stop.__sigaction_handler.sa_handler = { _ in stopRequested.store(true, ordering: .relaxed) }
    sigemptyset(&stop.sa_mask)
    stop.sa_flags = 0
    sigaction(SIGINT, &stop, nil)
    sigaction(SIGTERM, &stop, nil)
    sigaction(SIGHUP, &stop, nil)   // the terminal went away
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

import ArgumentParser
import CPOSupport
import Foundation

// Past a file size limit (ulimit -f), a write fails with EFBIG, which every save reports and
// survives (training goes on), instead of SIGXFSZ ending the program in the middle of a run.
signal(SIGXFSZ, SIG_IGN)

// ArgumentParser's `CPOTUI.main()`, except that an error message is escaped for the terminal
// before it is printed: it can quote file names and values from the user's files, which may
// hold escape sequences (TerminalText). Help and --version print as ArgumentParser prints them.
do {
    var command = try CPOTUI.parseAsRoot()
    try command.run()
} catch {
    let code = CPOTUI.exitCode(for: error)
    if code == .success { CPOTUI.exit(withError: error) }
    let message = CPOTUI.fullMessage(for: error)
    if !message.isEmpty { FileHandle.standardError.write(Data((TerminalText.escaped(message) + "\n").utf8)) }
    exit(code.rawValue)
}

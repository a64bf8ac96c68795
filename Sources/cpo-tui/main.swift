import ArgumentParser
import Foundation

// Past a file size limit (ulimit -f), a write fails with EFBIG, which every save reports and
// survives (training goes on), instead of SIGXFSZ ending the program in the middle of a run.
signal(SIGXFSZ, SIG_IGN)
CPOTUI.main()

import ArgumentParser
import Dashboard
import Lab

struct CPOTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpo-tui",
        abstract: "A terminal lab for causal preference optimization (CPO, DR-CPO) on small language models.",
        discussion: """
            Available now:
              cpo-tui bench [--json] [--breakdown]   measure the training core (tokens/s, GFLOP/s, memory)

            Coming with the next issues: the dashboard (cpo-tui with no arguments), headless runs
            (cpo-tui run), worlds (cpo-tui world sample|check) and reports.
            """,
        subcommands: [Bench.self])

    func run() throws {
        print(CPOTUI.helpMessage())
    }
}

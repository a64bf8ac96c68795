import ArgumentParser
import Dashboard
import Lab

struct CPOTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpo-tui",
        abstract: "A terminal lab for causal preference optimization (CPO, DR-CPO) on small language models.",
        discussion: """
            Available now: simulated worlds (world list, world check, world sample), dataset
            checks (data check) and the training-core benchmark (bench). Coming next: headless runs with reports (run) and
            the dashboard (cpo-tui with no arguments).
            """,
        subcommands: [RunCommand.self, WorldCommand.self, DataCommand.self, Bench.self])

    func run() throws {
        print(CPOTUI.helpMessage())
    }
}

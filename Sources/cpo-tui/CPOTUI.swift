import ArgumentParser
import Dashboard
import Lab

struct CPOTUI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpo-tui",
        abstract: "A terminal lab for causal preference optimization (CPO, DR-CPO) on small language models.",
        discussion: """
            With no command, cpo-tui opens the dashboard on the default world (headless when
            there is no terminal). run: the same comparison headless, with reports. runs: saved runs. compare: saved runs side by side. world:
            simulated worlds. data: check your own dataset. export: the prepared experiment for an external trainer on GPUs
            (PyTorch + transformers + accelerate); ghat score: apply its ĝ to texts. estimate: estimates from a rows file. \
            sensitivity: how much hidden confounding they survive (Λ, Λ*). watch: the dashboard on a run another program writes. \
            config: the config file (theme, keys, ...). bench: speed of the training core.
            """,
        subcommands: [DashboardCommand.self, RunCommand.self, RunsCommand.self, CompareCommand.self, WorldCommand.self, DataCommand.self,
                      ExportCommand.self, GhatCommand.self, EstimateCommand.self, SensitivityCommand.self,
                      WatchCommand.self, ConfigCommand.self, Bench.self],
        defaultSubcommand: DashboardCommand.self)
}

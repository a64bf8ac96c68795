import ArgumentParser
import CPOSupport
import Dashboard
import Foundation
import OutcomeData

/// `--config PATH`, for the commands that read the config file (dashboard, run, export, watch,
/// config show).
struct ConfigOption: ParsableArguments {
    @Option(name: .customLong("config"),
            help: "The config file (default: $CPO_TUI_CONFIG, else $XDG_CONFIG_HOME/cpo-tui/config.toml, else ~/.config/cpo-tui/config.toml; see `cpo-tui config show`).")
    var path: String?

    var location: DashboardConfig.Location { DashboardConfig.locate(option: path) }

    /// The configuration in effect and, when the file does not load, its problem (the
    /// built-in defaults are then used).
    func load() -> (config: DashboardConfig, error: InputError?) {
        DashboardConfig.load(location, themeFolders: Themes.folders())
    }

    /// The configuration for a command without a screen: a bad file is reported on stderr and
    /// the built-in defaults are used.
    func loadOrWarn() -> DashboardConfig {
        let (config, error) = load()
        if let error { Self.warn(error) }
        return config
    }

    static func warn(_ error: InputError) {
        FileHandle.standardError.write(Data("warning: \(TerminalText.escaped(error.description))\nwarning: the config file is ignored: the built-in defaults are used.\n".utf8))
    }

    /// The dashboard's status line for a config file that did not load: what happened and
    /// where the details are first, as the header cuts it at the screen's edge.
    static func status(_ error: InputError, log: String?) -> String {
        var place = (error.file as NSString).lastPathComponent
        if let line = error.line {
            place += ":\(line)"
            if let column = error.column { place += ":\(column)" }
        }
        return "config ignored, defaults used" + (log.map { " (see \($0))" } ?? "") + ": \(place): \(error.message)"
    }
}

extension RunOptions {
    /// Uses `world` (the config file's) when neither --world nor --data is given.
    mutating func useDefaultWorld(_ world: String) {
        if self.world == nil && data.path == nil { self.world = world }
    }
}

/// `cpo-tui config`: the config file.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "The config file: theme, ASCII, mouse, default world, frame rate and key bindings.",
        discussion: """
            The file is $CPO_TUI_CONFIG if set, else $XDG_CONFIG_HOME/cpo-tui/config.toml, else \
            ~/.config/cpo-tui/config.toml; --config PATH names another. Command-line flags override it, \
            it overrides the built-in defaults. A missing file is not an error. A file with a problem \
            is reported at its line and column; the dashboard then starts with the defaults.
            """,
        subcommands: [ConfigShow.self, ConfigPath.self])
}

struct ConfigShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the configuration in effect as TOML, with where each value comes from and every action's keys.",
        discussion: "The output is itself a valid config file. Exits non-zero, printing the problem, when the file does not load.")

    @OptionGroup var configFile: ConfigOption

    func run() throws {
        let location = configFile.location
        if !location.explicit && !FileManager.default.fileExists(atPath: location.path) {
            print(DashboardConfig().tomlText(location: location), terminator: "")
            return
        }
        do {
            let config = try DashboardConfig.load(path: location.path, themeFolders: Themes.folders())
            print(config.tomlText(location: location), terminator: "")
        } catch {
            throw CLIError(error.description)
        }
    }
}

struct ConfigPath: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "path",
        abstract: "Print the path of the config file (whether or not it exists).")

    @OptionGroup var configFile: ConfigOption

    func run() {
        let location = configFile.location
        print(location.path)
        if !FileManager.default.fileExists(atPath: location.path) {
            FileHandle.standardError.write(Data("(no file there: the built-in defaults are used)\n".utf8))
        }
    }
}

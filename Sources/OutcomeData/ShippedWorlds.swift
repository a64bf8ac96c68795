import Foundation

/// Finds worlds by path or by the name of a world shipped in `sample-data/worlds/`.
public enum ShippedWorlds {
    /// The world `cpo-tui` uses when given no data.
    public static let defaultName = "river-cleanup"

    /// Folders searched for shipped worlds, in order: `$CPO_TUI_WORLDS`, `./sample-data/worlds`,
    /// and `sample-data/worlds` in the folders above the executable (so a binary built in
    /// `.build/release` finds the repository's worlds).
    public static func searchFolders(executable: String = CommandLine.arguments.first ?? "") -> [String] {
        var out: [String] = []
        if let env = ProcessInfo.processInfo.environment["CPO_TUI_WORLDS"], !env.isEmpty { out.append(env) }
        out.append(FileManager.default.currentDirectoryPath + "/sample-data/worlds")
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            out.append(dir.appendingPathComponent("sample-data/worlds").path)
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        var seen = Set<String>()
        return out.filter { seen.insert(URL(fileURLWithPath: $0).standardizedFileURL.path).inserted }
    }

    /// The file for `nameOrPath`: an existing file as given, else `NAME.toml` in the first
    /// search folder that has it.
    public static func resolve(_ nameOrPath: String) throws(InputError) -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDir), !isDir.boolValue {
            return nameOrPath
        }
        // A link that loops is there but leads nowhere: the loader says so (not "not found").
        var st = stat()
        if stat(nameOrPath, &st) != 0 && errno == ELOOP { return nameOrPath }
        let looksLikeName = !nameOrPath.isEmpty && nameOrPath.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }
            && nameOrPath.unicodeScalars.allSatisfy(\.isASCII)
        if looksLikeName {
            for folder in searchFolders() {
                let candidate = folder + "/" + nameOrPath + ".toml"
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            let known = available().map(\.name)
            throw InputError(
                file: nameOrPath, message: "no world file of that name",
                hint: known.isEmpty
                    ? "No shipped worlds were found (looked in \(searchFolders().joined(separator: ", "))); pass the path of a .toml world file."
                    : "Shipped worlds: \(known.joined(separator: ", ")); or pass the path of a .toml world file.")
        }
        throw InputError(file: nameOrPath, message: "file not found",
                         hint: "Check the path, or pass the name of a shipped world (see `cpo-tui world list`).")
    }

    /// Shipped worlds found in the search folders: (name, path), by name.
    public static func available() -> [(name: String, path: String)] {
        var found: [String: String] = [:]
        for folder in searchFolders() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for n in names where n.hasSuffix(".toml") {
                let name = String(n.dropLast(5))
                if found[name] == nil { found[name] = folder + "/" + n }
            }
        }
        return found.sorted { $0.key < $1.key }.map { (name: $0.key, path: $0.value) }
    }
}

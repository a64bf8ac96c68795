import Foundation

extension Theme {
    /// The built-in themes' names, in cycling order (also their file names in themes/).
    public static var builtInNames: [String] { builtIn.map(\.name) }

    /// The theme `nameOrPath` stands for: an existing file is loaded; else `NAME.toml` from the
    /// first of `folders` that holds one; else the built-in theme of that name. Nil when none
    /// of these exists; a file that exists but does not load is an error.
    public static func find(_ nameOrPath: String, folders: [String]) throws(ThemeError) -> Theme? {
        let files = FileManager.default
        if files.fileExists(atPath: nameOrPath) { return try load(path: nameOrPath) }
        for folder in folders {
            let path = (folder as NSString).appendingPathComponent(nameOrPath + ".toml")
            if files.fileExists(atPath: path) { return try load(path: path) }
        }
        return named(nameOrPath)
    }
}

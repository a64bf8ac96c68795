import Foundation

/// The scale-out bridge (README "Scaling out"): what cpo-tui hands to an external trainer and
/// reads back from it.
public enum Bridge {
    /// The reference trainer shipped with the package: `train_cpo.py`, located in the resource
    /// bundle next to the executable. Nil when the bundle is missing (a binary copied away from
    /// its build folder), so callers can say what to do instead of crashing in `Bundle.module`.
    public static func referenceTrainerURL() -> URL? {
        let name = "train_cpo.py"
        var candidates: [URL] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for dir in [exe, Bundle.main.bundleURL, Bundle.main.resourceURL].compactMap({ $0 }) {
            candidates.append(dir.appendingPathComponent("cpo-tui_Bridge.resources").appendingPathComponent(name))
            candidates.append(dir.appendingPathComponent("cpo-tui_Bridge.bundle").appendingPathComponent(name))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }
}

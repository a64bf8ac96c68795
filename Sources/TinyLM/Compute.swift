import CPUFeatures
import TinyLMKernelsAVX2
import TinyLMKernelsAVX512
import TinyLMKernelsPortable

/// Which build of the hot kernels runs. The shared source in `Kernels/` is compiled once per
/// case; the binary picks one at run time so it never executes instructions the CPU lacks.
public enum KernelPath: String, CaseIterable, Sendable, Codable {
    case avx512, avx2, portable

    /// The paths this machine can execute, best first.
    public static let supported: [KernelPath] = {
        var paths: [KernelPath] = []
        if cpof_has_avx512() != 0 { paths.append(.avx512) }
        if cpof_has_avx2_fma() != 0 { paths.append(.avx2) }
        paths.append(.portable)
        return paths
    }()

    /// The fastest supported path, unless `CPO_KERNELS=avx512|avx2|portable` names another
    /// supported one (for comparisons and debugging).
    public static let best: KernelPath = {
        if let name = getenvString("CPO_KERNELS"), let p = KernelPath(rawValue: name), supported.contains(p) {
            return p
        }
        return supported[0]
    }()
}

/// How kernels run: which vector build and how many threads. A value type handed to every
/// model, so tests can run the same computation on every path.
public struct Compute: Sendable, Hashable {
    public let path: KernelPath
    public let threads: Int

    /// The best path on this machine with `threads` threads (default: 2, the machine's cores).
    public init(threads: Int = Compute.defaultThreads) {
        self.path = KernelPath.best
        self.threads = max(1, threads)
    }

    /// A specific path; `nil` when this CPU cannot run it.
    public init?(path: KernelPath, threads: Int = Compute.defaultThreads) {
        guard KernelPath.supported.contains(path) else { return nil }
        self.path = path
        self.threads = max(1, threads)
    }

    public static let defaultThreads: Int = {
        let n = sysconfThreads()
        return max(1, min(n, 8))
    }()
}

import Foundation

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

func sysconfThreads() -> Int {
    ProcessInfo.processInfo.activeProcessorCount
}

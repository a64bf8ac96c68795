import CPUFeatures
import TinyLMKernelsAVX2
import TinyLMKernelsAVX512
import TinyLMKernelsPortable

/// Which build of the hot kernels runs. The shared source in `Kernels/` is compiled once per
/// fp32 case; the binary picks one at run time so it never executes instructions the CPU lacks.
/// `avx512-bf16` is the AVX-512 build whose training steps multiply in bf16 (TinyLM.docc/Kernels.md,
/// "The bf16 path"); the other three compute in fp32 throughout.
public enum KernelPath: String, CaseIterable, Sendable, Codable {
    case avx512bf16 = "avx512-bf16", avx512, avx2, portable

    /// The paths this machine can execute, best first.
    public static let supported: [KernelPath] = {
        var paths: [KernelPath] = []
        if cpof_has_avx512_bf16() != 0 { paths.append(.avx512bf16) }
        if cpof_has_avx512() != 0 { paths.append(.avx512) }
        if cpof_has_avx2_fma() != 0 { paths.append(.avx2) }
        paths.append(.portable)
        return paths
    }()

    /// The fastest supported path, unless `CPO_KERNELS=avx512-bf16|avx512|avx2|portable` names
    /// another supported one (for comparisons, debugging, or fp32 training on a bf16 machine).
    public static let best: KernelPath = {
        if let name = getenvString("CPO_KERNELS"), let p = KernelPath(rawValue: name), supported.contains(p) {
            return p
        }
        return supported[0]
    }()

    /// Whether a training step's matrix multiplies round their operands to bf16.
    public var trainsInBF16: Bool { self == .avx512bf16 }

    /// The path that computes everything in fp32 with the same layer kernels.
    public var fp32: KernelPath { self == .avx512bf16 ? .avx512 : self }
}

/// How kernels run: which vector build, how many threads, and whether `sgemm` multiplies in bf16.
/// A value type handed to every model, so tests can run the same computation on every path.
public struct Compute: Sendable, Hashable {
    public let path: KernelPath
    public let threads: Int
    /// `sgemm` rounds its operands to bf16 (products summed in fp32): only for the matrix
    /// multiplies of a training step on a path that `trainsInBF16` (see `forTraining`).
    public private(set) var bf16Products = false

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

    /// This compute for the matrix multiplies of a training step: bf16 products where the path
    /// trains in bf16, else unchanged. Evaluation and sampling keep fp32 (`self`).
    public var forTraining: Compute {
        var c = self
        c.bf16Products = path.trainsInBF16
        return c
    }

    /// The same build and threads, fp32 throughout (tests that check gradients pin this).
    public var fp32: Compute { Compute(checked: path.fp32, threads: threads) }

    /// `path` known to be supported (`path.fp32` runs wherever `path` does).
    private init(checked path: KernelPath, threads: Int) {
        self.path = path
        self.threads = threads
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

import ArgumentParser
import Foundation
import TinyLM

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and sampling speed, GEMM GFLOP/s and peak memory on the reference config \"tiny\".")

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Only measure the GEMM shapes (quick kernel check).")
    var gemmOnly = false

    @Option(help: "Kernel build to use: avx512, avx2 or portable (default: the best this CPU supports).")
    var kernels: String?

    @Option(help: "Threads for the kernels.")
    var threads: Int = Compute.defaultThreads

    func run() throws {
        let compute: Compute
        if let kernels {
            guard let path = KernelPath(rawValue: kernels) else {
                throw ValidationError("unknown kernel build '\(kernels)'; use avx512, avx2 or portable")
            }
            guard let c = Compute(path: path, threads: threads) else {
                throw ValidationError("this CPU cannot run the \(kernels) kernels; supported: \(KernelPath.supported.map(\.rawValue).joined(separator: ", "))")
            }
            compute = c
        } else {
            compute = Compute(threads: threads)
        }
        var rates: [(String, Double)] = []
        for s in GemmBenchmark.tinyShapes {
            rates.append((s.name, GemmBenchmark.measure(s, compute: compute)))
        }
        let geomean = exp(rates.map { log($0.1) }.reduce(0, +) / Double(rates.count))
        print("kernels \(compute.path.rawValue), threads \(compute.threads)")
        for (name, r) in rates { print(String(format: "gemm %-28@ %8.1f GFLOP/s", name as NSString, r)) }
        print(String(format: "gemm geomean %21@ %8.1f GFLOP/s", "" as NSString, geomean))
        if gemmOnly { return }
    }
}

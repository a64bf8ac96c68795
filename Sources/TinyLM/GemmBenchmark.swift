import Foundation

/// Measures matrix-multiply throughput on the shapes a training step uses.
public enum GemmBenchmark {
    /// One GEMM shape `op(A)[m×k] · op(B)[k×n]`, named as in the issue: `[MxK]x[KxN]`.
    public struct Shape: Sendable, Hashable {
        public let m: Int, n: Int, k: Int
        public let transA: Bool, transB: Bool
        public init(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false) {
            self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
        }
        /// `[MxK]x[KxN]`, the product's shape (as the issue names it; how A and B are stored
        /// is in `storage`).
        public var name: String { "[\(m)x\(k)]x[\(k)x\(n)]" }
        /// How the operands are stored, e.g. "A transposed".
        public var storage: String {
            switch (transA, transB) {
            case (false, false): ""
            case (true, false): "A stored transposed"
            case (false, true): "B stored transposed"
            case (true, true): "A and B stored transposed"
            }
        }
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    /// The four shapes `cpo-tui bench` reports for the reference config "tiny"
    /// (2048 tokens, d_model 128): QKV, MLP up, MLP down, and a weight gradient (Aᵀ·B).
    public static let tinyShapes: [Shape] = [
        Shape(m: 2048, n: 384, k: 128),
        Shape(m: 2048, n: 512, k: 128),
        Shape(m: 2048, n: 128, k: 512),
        Shape(m: 128, n: 384, k: 2048, transA: true),
    ]

    /// Median GFLOP/s of `repeats` timed batches of calls (after a warm-up), each batch about
    /// `batchSeconds` long, multiplied as a training step does (`Compute.forTraining`: bf16
    /// products on the `avx512-bf16` path).
    public static func measure(_ s: Shape, compute: Compute, repeats: Int = 7, batchSeconds: Double = 0.05) -> Double {
        let compute = compute.forTraining
        let aCount = s.m * s.k, bCount = s.k * s.n, cCount = s.m * s.n
        let a = UnsafeMutablePointer<Float>.allocate(capacity: aCount)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: bCount)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: cCount)
        let wsCount = compute.gemmWorkspaceSize(m: s.m, n: s.n, k: s.k)
        let ws = UnsafeMutablePointer<Float>.allocate(capacity: max(1, wsCount))
        defer { a.deallocate(); b.deallocate(); c.deallocate(); ws.deallocate() }
        var rng = SeededRandomFloat(seed: 1)
        for i in 0..<aCount { a[i] = rng.next() }
        for i in 0..<bCount { b[i] = rng.next() }
        let lda = s.transA ? s.m : s.k
        let ldb = s.transB ? s.k : s.n
        func call() {
            compute.sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k,
                          a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: s.n, beta: 0, workspace: ws)
        }
        // Warm up and size a batch to about batchSeconds.
        var calls = 1
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { call() }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if dt >= batchSeconds * 0.5 || calls >= 1 << 20 { break }
            calls *= 2
        }
        var rates: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { call() }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            rates.append(s.flops * Double(calls) / dt / 1e9)
        }
        rates.sort()
        return rates[rates.count / 2]
    }
}

/// Uniform floats in [-1, 1) for benchmark inputs.
struct SeededRandomFloat {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> Float {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(state >> 40) * 0x1.0p-23 - 1
    }
}

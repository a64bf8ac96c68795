import Testing
@testable import TinyLM

// Gemm.sgemm (Kernels/Gemm.swift) against a Double-accumulated reference, on every kernel
// path this CPU runs, with one and two threads. Sizes are odd on purpose: partial row tiles,
// partial slivers and partial vectors, several k blocks, several column blocks, padded
// leading dimensions. Kept small: tests run in debug builds, where the kernels are slow.

/// One multiply to check: `op(A)[m×k] · op(B)[k×n]` with leading-dimension padding.
struct GemmCase: CustomTestStringConvertible, Sendable {
    let m: Int, n: Int, k: Int
    var pad = 0
    var testDescription: String { "m\(m) n\(n) k\(k)" + (pad > 0 ? " pad\(pad)" : "") }
}

/// The compute configurations under test: every supported path, one and two threads. A compute
/// not made `forTraining` multiplies in fp32 on every path, `avx512-bf16` included (its bf16
/// products are checked in BF16Tests).
private let gemmComputes: [Compute] = KernelPath.supported.flatMap { p in
    [Compute(path: p, threads: 1)!, Compute(path: p, threads: 2)!]
}

/// Deterministic values in [-1, 1) (xorshift), independent of other test helpers.
private func gemmRandom(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(s >> 40) * 0x1.0p-23 - 1
    }
}

/// Inputs for one case, stored as the flags say, with padded leading dimensions.
struct GemmOperands: Sendable {
    let transA: Bool, transB: Bool
    let m: Int, n: Int, k: Int
    let lda: Int, ldb: Int, ldc: Int
    let a: [Float], b: [Float], c0: [Float]

    init(_ t: GemmCase, transA: Bool, transB: Bool, seed: UInt64) {
        self.transA = transA; self.transB = transB
        m = t.m; n = t.n; k = t.k
        lda = (transA ? t.m : t.k) + t.pad
        ldb = (transB ? t.k : t.n) + t.pad
        ldc = t.n + t.pad + (t.pad > 0 ? 2 : 0)
        a = gemmRandom(max(1, (transA ? t.k : t.m) * lda), seed: seed)
        b = gemmRandom(max(1, (transB ? t.n : t.k) * ldb), seed: seed &+ 1)
        c0 = gemmRandom(max(1, t.m * ldc), seed: seed &+ 2)
    }

    /// `sgemm` on `compute`, from `start` as the initial C.
    func run(_ compute: Compute, beta: Float, start: [Float]) -> [Float] {
        var c = start
        let wsCount = compute.gemmWorkspaceSize(m: m, n: n, k: k)
        var ws = [Float](repeating: .nan, count: max(1, wsCount))
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    ws.withUnsafeMutableBufferPointer { wp in
                        compute.sgemm(
                            transA: transA, transB: transB, m: m, n: n, k: k,
                            a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                            c: cp.baseAddress!, ldc: ldc, beta: beta,
                            workspace: wsCount == 0 ? nil : wp.baseAddress!)
                    }
                }
            }
        }
        return c
    }

    /// The exact product (in Double) and Σ|a·b| per element of the m×n block, row-major; with
    /// `rounding`, of the operands after rounding each element (e.g. to bf16).
    func reference(rounding: ((Float) -> Float)? = nil) -> (sum: [Double], mag: [Double]) {
        var sum = [Double](repeating: 0, count: m * n), mag = sum
        let a = rounding.map { self.a.map($0) } ?? self.a, b = rounding.map { self.b.map($0) } ?? self.b
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let (ars, acs) = transA ? (1, lda) : (lda, 1)
                let (brs, bcs) = transB ? (1, ldb) : (ldb, 1)
                for i in 0..<m {
                    for p in 0..<k {
                        let x = Double(a[i * ars + p * acs])
                        for j in 0..<n {
                            let y = x * Double(b[p * brs + j * bcs])
                            sum[i * n + j] += y
                            mag[i * n + j] += abs(y)
                        }
                    }
                }
            }
        }
        return (sum, mag)
    }

    /// The fp32 error bound relative to Σ|a·b|: 1e-5·√k.
    var fp32Tolerance: Double { 1e-5 * Double(max(1, k)).squareRoot() }

    /// Checks `got` against the Double reference `ref`: the m×n block within `tolerance` (by
    /// default the fp32 bound) times Σ|a·b|, everything else (ldc padding) untouched.
    func check(_ got: [Float], ref: (sum: [Double], mag: [Double]), beta: Float, start: [Float], label: String,
               tolerance: Double? = nil) {
        let tol = tolerance ?? fp32Tolerance
        var bad = 0
        for i in 0..<m {
            for j in 0..<ldc {
                let idx = i * ldc + j
                if j >= n {
                    if got[idx].bitPattern != start[idx].bitPattern { bad += 1 }
                    continue
                }
                var sum = ref.sum[i * n + j], mag = ref.mag[i * n + j]
                if beta != 0 { sum += Double(beta) * Double(start[idx]); mag += abs(Double(start[idx])) }
                let err = abs(Double(got[idx]) - sum)
                if !(err <= tol * mag + 1e-30) { bad += 1 }
            }
        }
        #expect(bad == 0, "\(label): \(bad) wrong elements")
    }
}

/// Operands with their reference product, computed once and shared by every compute.
private struct PreparedGemm: Sendable {
    let name: String
    let ops: GemmOperands
    let ref: (sum: [Double], mag: [Double])
    /// C full of NaN in the m×n block (random in the padding), for beta 0.
    let garbage: [Float]

    init(_ t: GemmCase, transA: Bool, transB: Bool, seed: UInt64) {
        ops = GemmOperands(t, transA: transA, transB: transB, seed: seed)
        ref = ops.reference()
        var g = ops.c0
        for i in 0..<ops.m { for j in 0..<ops.n { g[i * ops.ldc + j] = .nan } }
        garbage = g
        name = "\(t.testDescription) ta=\(transA) tb=\(transB)"
    }

    func check(_ compute: Compute, beta: Float) {
        let start = beta == 0 ? garbage : ops.c0
        ops.check(ops.run(compute, beta: beta, start: start), ref: ref, beta: beta, start: start,
                  label: "\(compute.path) t\(compute.threads) \(name) beta\(beta)")
    }
}

let transCombos: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

/// Sizes around the tiles (6 or 4 rows; 64, 16 or 8 columns), several k blocks (kc = 128),
/// more columns than one packed block (512), and padded leading dimensions.
let gemmCases: [GemmCase] = [
    GemmCase(m: 1, n: 1, k: 1),
    GemmCase(m: 3, n: 5, k: 17),
    GemmCase(m: 5, n: 3, k: 1, pad: 3),
    GemmCase(m: 17, n: 63, k: 5),
    GemmCase(m: 6, n: 64, k: 129, pad: 1),
    GemmCase(m: 63, n: 65, k: 100, pad: 7),
    GemmCase(m: 65, n: 17, k: 3),
    GemmCase(m: 100, n: 129, k: 5, pad: 2),
    GemmCase(m: 12, n: 33, k: 300),
    GemmCase(m: 2, n: 600, k: 9, pad: 5),
    GemmCase(m: 129, n: 1, k: 63),
]

private let preparedCases: [PreparedGemm] = {
    var seed: UInt64 = 1
    return gemmCases.flatMap { t in
        transCombos.map { ta, tb in
            seed &+= 3
            return PreparedGemm(t, transA: ta, transB: tb, seed: seed)
        }
    }
}()

/// Large enough (> 12 MFLOP, `gemmMinParallelFlops`) to run on two threads, shaped so the
/// planner splits the columns in the first case and the rows in the second.
private let preparedThreaded: [PreparedGemm] = [
    PreparedGemm(GemmCase(m: 30, n: 400, k: 520, pad: 1), transA: false, transB: true, seed: 500),
    PreparedGemm(GemmCase(m: 400, n: 20, k: 760), transA: true, transB: false, seed: 503),
]

@Suite("Gemm")
struct GemmTests {
    @Test("matches a Double reference: 4 trans × beta 0/1, odd sizes", arguments: gemmComputes)
    func matchesReference(compute: Compute) {
        for prepared in preparedCases {
            prepared.check(compute, beta: 0)  // over NaN garbage: it must not leak
            prepared.check(compute, beta: 1)
        }
    }

    @Test("threaded splits (columns, rows) match the reference", arguments: gemmComputes)
    func threadedSplits(compute: Compute) {
        for prepared in preparedThreaded {
            prepared.check(compute, beta: 1)
        }
    }

    @Test("k = 0: beta 0 zeroes C (even NaN), beta 1 leaves it", arguments: gemmComputes)
    func emptyK(compute: Compute) {
        checkEmptyK(compute, transB: false)
    }

    @Test("m = 0 or n = 0 needs no workspace and writes nothing", arguments: gemmComputes)
    func emptyOutput(compute: Compute) {
        #expect(compute.gemmWorkspaceSize(m: 0, n: 5, k: 5) == 0)
        #expect(compute.gemmWorkspaceSize(m: 5, n: 0, k: 5) == 0)
        #expect(compute.gemmWorkspaceSize(m: 5, n: 5, k: 0) == 0)
        for (m, n) in [(0, 5), (5, 0)] {
            let ops = GemmOperands(GemmCase(m: m, n: n, k: 4), transA: false, transB: false, seed: 3)
            #expect(ops.run(compute, beta: 0, start: ops.c0) == ops.c0)
        }
    }

    /// Every path (and thread count) computes the same product to fp32 accuracy, including
    /// the sampling shape of the tied LM head (few rows, Bᵀ) and a model-shaped dW (Aᵀ).
    @Test("paths agree with each other")
    func pathsAgree() {
        let cases: [(GemmCase, Bool, Bool)] = [
            (GemmCase(m: 32, n: 96, k: 64), false, true),
            (GemmCase(m: 40, n: 72, k: 200), true, false),
        ]
        for (t, ta, tb) in cases {
            let ops = GemmOperands(t, transA: ta, transB: tb, seed: 77)
            let results = gemmComputes.map { ops.run($0, beta: 0, start: ops.c0) }
            let mags = ops.reference().mag
            let tol = 1e-5 * Double(t.k).squareRoot()
            for (r, compute) in zip(results.dropFirst(), gemmComputes.dropFirst()) {
                var worst = 0.0
                for i in 0..<t.m {
                    for j in 0..<t.n {
                        let mag = mags[i * t.n + j]
                        let d = abs(Double(r[i * ops.ldc + j]) - Double(results[0][i * ops.ldc + j]))
                        worst = max(worst, d / max(mag, 1e-30))
                    }
                }
                #expect(worst <= tol, "\(compute.path) t\(compute.threads) vs \(gemmComputes[0].path): \(worst)")
            }
        }
    }
}

/// k = 0 on `compute`: beta 0 zeroes the m×n block of C (even NaN) and leaves the padding, beta 1
/// leaves C as it was.
func checkEmptyK(_ compute: Compute, transB: Bool) {
    let ops = GemmOperands(GemmCase(m: 7, n: 9, k: 0, pad: 2), transA: false, transB: transB, seed: 9)
    var garbage = ops.c0
    for i in 0..<ops.m { for j in 0..<ops.n { garbage[i * ops.ldc + j] = .nan } }
    let zeroed = ops.run(compute, beta: 0, start: garbage)
    for i in 0..<ops.m {
        for j in 0..<ops.ldc {
            let idx = i * ops.ldc + j
            if j < ops.n { #expect(zeroed[idx] == 0) } else { #expect(zeroed[idx].bitPattern == garbage[idx].bitPattern) }
        }
    }
    #expect(ops.run(compute, beta: 1, start: ops.c0) == ops.c0)
}

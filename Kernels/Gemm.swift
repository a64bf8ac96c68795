// Shared by every kernel variant (see Package.swift). Matrix multiply, row-major throughout.

public enum Gemm {
    /// Floats of scratch `sgemm` needs for these sizes (pass at least this many as `workspace`).
    public static func workspaceSize(m: Int, n: Int, k: Int, threads: Int) -> Int {
        0
    }

    /// `C[m×n] = op(A)[m×k] · op(B)[k×n] + beta · C`, all row-major.
    ///
    /// `op(A)` is `A` stored `m×k` (leading dimension `lda >= k`), or with `transA` the
    /// transpose of `A` stored `k×m` (`lda >= m`); likewise `B`. `beta` is 0 (overwrite; C
    /// may hold garbage, even NaN) or 1 (accumulate). Uses up to `threads` threads.
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float, threads: Int, workspace: UnsafeMutablePointer<Float>?
    ) {
        parallelRanges(m, threads: threads, minPerChunk: 16) { lo, hi in
            for i in lo..<hi {
                let crow = c + i * ldc
                if beta == 0 { for j in 0..<n { crow[j] = 0 } }
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    if transB {
                        for j in 0..<n { crow[j] += av * b[j * ldb + p] }
                    } else {
                        let brow = b + p * ldb
                        for j in 0..<n { crow[j] += av * brow[j] }
                    }
                }
            }
        }
    }
}

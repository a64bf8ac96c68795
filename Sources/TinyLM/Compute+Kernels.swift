import TinyLMKernelsAVX2
import TinyLMKernelsAVX512
import TinyLMKernelsPortable

// One switch per kernel: the only place that knows the three builds exist.
extension Compute {
    public func gemmWorkspaceSize(m: Int, n: Int, k: Int) -> Int {
        switch path {
        case .avx512: TinyLMKernelsAVX512.Gemm.workspaceSize(m: m, n: n, k: k, threads: threads)
        case .avx2: TinyLMKernelsAVX2.Gemm.workspaceSize(m: m, n: n, k: k, threads: threads)
        case .portable: TinyLMKernelsPortable.Gemm.workspaceSize(m: m, n: n, k: k, threads: threads)
        }
    }

    /// `C[m×n] = op(A)·op(B) + beta·C`, row-major; see `Gemm.sgemm` in Kernels/Gemm.swift.
    public func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float,
        workspace: UnsafeMutablePointer<Float>?
    ) {
        switch path {
        case .avx512:
            TinyLMKernelsAVX512.Gemm.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                c: c, ldc: ldc, beta: beta, threads: threads, workspace: workspace)
        case .avx2:
            TinyLMKernelsAVX2.Gemm.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                c: c, ldc: ldc, beta: beta, threads: threads, workspace: workspace)
        case .portable:
            TinyLMKernelsPortable.Gemm.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                c: c, ldc: ldc, beta: beta, threads: threads, workspace: workspace)
        }
    }
}

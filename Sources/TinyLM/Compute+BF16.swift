import Dispatch
import TinyLMKernelsBF16

/// The matrix multiply of a training step on the `avx512-bf16` path: the operands rounded to bf16
/// (to nearest even) as they are packed, the products summed in fp32 by `vdpbf16ps`
/// (Sources/TinyLMKernelsBF16; TinyLM.docc/Kernels.md, "The bf16 path"). The same contract as
/// the fp32 `Gemm.sgemm` but for the rounding; call it only where `KernelPath.avx512bf16` is
/// supported. Two threads split the rows, or the columns when there are few rows, so every
/// element is summed in the same order whatever the thread count.
enum BF16Gemm: GemmKernels {
    static let tileRows = Int(TLM_BF16_GEMM_MR)
    static let tileColumns = Int(TLM_BF16_GEMM_NR)

    static func workspaceSize(m: Int, n: Int, k: Int, threads: Int) -> Int {
        if m <= 0 || n <= 0 || k <= 0 { return 0 }
        return plan(m: m, n: n, k: k, threads: threads).threads * perThreadFloats(n: n, k: k)
    }

    static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, threads: Int,
        workspace: UnsafeMutablePointer<Float>?
    ) {
        if m <= 0 || n <= 0 { return }
        guard k > 0 else {
            tlm_bf16_gemm(0, 0, 0, a, lda, b, ldb, c, ldc, beta, 0, m, 0, n, nil)
            return
        }
        guard let ws = workspace else {
            preconditionFailure("BF16Gemm.sgemm needs a workspace of workspaceSize floats")
        }
        let (t, splitCols) = plan(m: m, n: n, k: k, threads: threads)
        let perThread = perThreadFloats(n: n, k: k)
        let ta: Int32 = transA ? 1 : 0, tb: Int32 = transB ? 1 : 0
        if t <= 1 {
            tlm_bf16_gemm(ta, tb, k, a, lda, b, ldb, c, ldc, beta, 0, m, 0, n, ws)
            return
        }
        // The threads write disjoint rectangles of C and disjoint workspace slices.
        nonisolated(unsafe) let a = a, b = b, out = c, scratch = ws
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let (unit, count) = splitCols ? (tileColumns, n) : (tileRows, m)
            let units = (count + unit - 1) / unit
            let lo = min(count, units * i / t * unit), hi = min(count, units * (i + 1) / t * unit)
            guard hi > lo else { return }
            let own = scratch + i * perThread
            if splitCols {
                tlm_bf16_gemm(ta, tb, k, a, lda, b, ldb, out, ldc, beta, 0, m, lo, hi, own)
            } else {
                tlm_bf16_gemm(ta, tb, k, a, lda, b, ldb, out, ldc, beta, lo, hi, 0, n, own)
            }
        }
    }

    /// Threads, and whether they split the columns: one thread below 12 MFLOP (as the fp32
    /// GEMM: waking a second costs tens of µs), the rows when each thread gets 64 or more.
    static func plan(m: Int, n: Int, k: Int, threads: Int) -> (threads: Int, splitCols: Bool) {
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        if threads <= 1 || flops < 12_000_000 { return (1, false) }
        let tiles = (m + tileRows - 1) / tileRows, slivers = (n + tileColumns - 1) / tileColumns
        if m >= 64 * threads || slivers < threads { return (max(1, min(threads, tiles)), false) }
        return (threads, true)
    }

    /// One thread's workspace in floats.
    static func perThreadFloats(n: Int, k: Int) -> Int {
        (tlm_bf16_gemm_workspace_bytes(n, k) + 3) / 4
    }
}

/// bf16 conversions, for tests and for checking the hardware's rounding against the reference.
enum BFloat16 {
    /// `x` rounded to bf16 (nearest, ties to even; denormals to signed zero; NaN stays NaN),
    /// as the bit pattern: the portable reference.
    static func bits(_ x: Float) -> UInt16 { tlm_bf16_from_float(x) }

    /// The float a bf16 bit pattern stands for.
    static func float(_ bits: UInt16) -> Float { tlm_bf16_to_float(bits) }

    /// `x` rounded to bf16 and back.
    static func rounded(_ x: Float) -> Float { float(bits(x)) }

    /// The bit patterns the vector instruction (`vcvtne2ps2bf16`) gives; nil where the CPU has no AVX512_BF16.
    static func hardwareBits(_ xs: [Float]) -> [UInt16]? {
        guard KernelPath.supported.contains(.avx512bf16) else { return nil }
        var out = [UInt16](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if let s = src.baseAddress, let d = dst.baseAddress { tlm_bf16_convert(s, d, xs.count) }
            }
        }
        return out
    }
}

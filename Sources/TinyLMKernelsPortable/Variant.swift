// Portable build of the shared kernels in Kernels/: no target CPU, so it runs on any machine.
// Without a target CPU, `addingProduct` lowers to scalar `fmaf` calls (TinyLM.docc/Kernels.md, "Lessons",
// 1), so this variant multiplies and adds separately.

/// The SIMD vector the shared kernels are written in.
typealias Vec = SIMD8<Float>
typealias IVec = SIMD8<Int32>

/// Multiply-add `acc + a * b` as two operations (no FMA without a target CPU).
@inline(__always) func vfma(_ acc: Vec, _ a: Vec, _ b: Vec) -> Vec { acc + a * b }

/// GEMM micro-tile: `gemmMR` rows by `gemmNV` vectors of C, sized for 16 xmm registers.
let gemmMR = 4
let gemmNV = 1
/// Rows per thread below which a B that is not transposed is read in place instead of packed
/// (Gemm.swift): only for sampling-sized m.
let gemmPackBMinRows = 64

public enum KernelVariantInfo {
    public static let name = "portable"
}

// AVX2 + FMA build of the shared kernels in Kernels/ (compiled with -target-cpu haswell).
// Only call into this module after CPUFeatures reports AVX2 and FMA support.

/// The SIMD vector the shared kernels are written in.
typealias Vec = SIMD8<Float>
typealias IVec = SIMD8<Int32>

/// Fused multiply-add `acc + a * b`: one `vfmadd231ps` on this target.
@inline(__always) func vfma(_ acc: Vec, _ a: Vec, _ b: Vec) -> Vec { acc.addingProduct(a, b) }

/// GEMM micro-tile: `gemmMR` rows by `gemmNV` vectors of C, sized for the 16 ymm registers.
let gemmMR = 6
let gemmNV = 2
/// Rows per thread below which a B that is not transposed is read in place instead of packed
/// (Gemm.swift): only for sampling-sized m; with 64 B per k row, larger jobs ran faster packed.
let gemmPackBMinRows = 64

public enum KernelVariantInfo {
    public static let name = "avx2"
}

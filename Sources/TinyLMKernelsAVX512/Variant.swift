// AVX-512 build of the shared kernels in Kernels/ (compiled with -target-cpu skylake-avx512).
// Only call into this module after CPUFeatures reports AVX-512 support.

/// The SIMD vector the shared kernels are written in.
typealias Vec = SIMD16<Float>
typealias IVec = SIMD16<Int32>

/// Fused multiply-add `acc + a * b`: one `vfmadd231ps` on this target.
@inline(__always) func vfma(_ acc: Vec, _ a: Vec, _ b: Vec) -> Vec { acc.addingProduct(a, b) }

/// GEMM micro-tile: `gemmMR` rows by `gemmNV` vectors (of `Vec.scalarCount` floats) of C,
/// chosen so accumulators, B loads and the A broadcast fit the 32 zmm registers.
let gemmMR = 6
let gemmNV = 4
/// Rows per thread below which a B that is not transposed is read in place instead of packed
/// (Gemm.swift): 4 vectors = 256 B per k row stream well (measured +3-10% on Aᵀ·B, k = 2048).
let gemmPackBMinRows = 512

public enum KernelVariantInfo {
    public static let name = "avx512"
}

#ifndef TINYLM_KERNELS_BF16_H
#define TINYLM_KERNELS_BF16_H
/* The bf16 matrix multiply of a training step (Sources/TinyLM/TinyLM.docc/Kernels.md, "The bf16
   path"): operands rounded to bf16, products summed in fp32 by AVX512-BF16 `vdpbf16ps`. Swift
   cannot emit these instructions, so they are C; each vector function carries its own target
   attribute, so the target is compiled without CPU flags and the binary runs on any x86-64.
   Call tlm_bf16_gemm and tlm_bf16_convert only where cpof_has_avx512_bf16() is 1. */
#include <stdint.h>

/* Micro-tile of the GEMM (rows of C by columns of C): how a caller splits work between threads. */
#define TLM_BF16_GEMM_MR 6
#define TLM_BF16_GEMM_NR 64

/* The bf16 bit pattern of x as VCVTNEPS2BF16 rounds it: to nearest, ties to even; zero and
   denormal inputs to a zero of the same sign; infinities kept; a NaN stays NaN, made quiet.
   Portable C: the reference the vector conversion is tested against. */
uint16_t tlm_bf16_from_float(float x);
/* The float a bf16 bit pattern stands for (exact). */
float tlm_bf16_to_float(uint16_t h);

/* dst[i] = bf16 of src[i] for i < n, by the vector instruction (AVX512-BF16 only). */
void tlm_bf16_convert(const float *src, uint16_t *dst, long n);

/* Bytes of workspace one thread needs for a product with n columns and depth k. */
long tlm_bf16_gemm_workspace_bytes(long n, long k);

/* C[rows, cols] = op(A)·op(B) + beta·C on the rectangle rows [row0, row1) x cols [col0, col1)
   of C, on the calling thread (AVX512-BF16 only). Row-major: op(A) is A stored m×k (lda >= k)
   or, with transA, the transpose of A stored k×m (lda >= m); likewise B (k×n, or n×k with
   transB). The elements of A and B are rounded to bf16, their products summed in fp32. beta 0
   overwrites C (which may hold garbage, even NaN), 1 accumulates, other values scale C first.
   workspace: tlm_bf16_gemm_workspace_bytes(col1 - col0, k) bytes, any alignment. */
void tlm_bf16_gemm(int transA, int transB, long k,
                   const float *a, long lda, const float *b, long ldb, float *c, long ldc, float beta,
                   long row0, long row1, long col0, long col1, void *workspace);
#endif

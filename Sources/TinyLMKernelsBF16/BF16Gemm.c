// The bf16 GEMM of a training step (the contract is in include/TinyLMKernelsBF16.h; the design
// in Sources/TinyLM/TinyLM.docc/Kernels.md, "The bf16 path").
//
// `vdpbf16ps acc, a, b` adds a[2i]·b[2i] + a[2i+1]·b[2i+1] to fp32 lane i: it consumes k in
// pairs. So both operands are packed as 32-bit pairs of bf16 along k (the even k in the low
// half), zero padded to an even depth:
//   B: per k block, slivers of 64 columns; per pair of k, 64 pairs (four zmm vectors of 16 columns).
//   A: per row block, the rows' pairs; the micro-kernel broadcasts one pair of a row to all 16 lanes.
// Loops, outermost first, as the fp32 Gemm.swift: column block (<= 512) -> k block (<= 256; pack
// and round B) -> row block (<= 96; pack and round A) -> row tile (6) -> B sliver (64) -> micro-
// kernel: 6 rows by 4 vectors of C in 24 zmm accumulators, per pair of k 4 loads of B and 6
// broadcasts of A (folded into vdpbf16ps as {1to16} memory operands) for 24 vdpbf16ps. Edges: a
// short row tile runs a kernel of its own height; a narrow sliver a kernel of fewer vectors, its
// last vector through masked loads and stores.
// Packing streams its block from memory with nothing to overlap (in training the activations have
// left the caches), so the next A block, and the next k block's B, are prefetched into L2 from
// inside the micro-kernel, a line every few pairs of k (issued in bursts between calls, the
// prefetches stalled on full miss buffers): packing went from ~22% to ~11% of the GEMM time of a
// training step on "tiny", ~160-175 GFLOP/s on one Zen 4 core, whose vdpbf16ps peak is ~230
// (the fp32 GEMM's is ~115).

#include "TinyLMKernelsBF16.h"
#include <string.h>

uint16_t tlm_bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t exponent = u & 0x7F800000u, mantissa = u & 0x007FFFFFu;
    if (exponent == 0) return (uint16_t)((u >> 16) & 0x8000u);   // zero or denormal: signed zero
    if (exponent == 0x7F800000u) {
        if (mantissa == 0) return (uint16_t)(u >> 16);            // infinity
        return (uint16_t)((u >> 16) | 0x0040u);                   // NaN: truncated, made quiet
    }
    u += 0x7FFFu + ((u >> 16) & 1u);                              // to nearest, ties to even
    return (uint16_t)(u >> 16);
}

float tlm_bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#if defined(__x86_64__)
#include <immintrin.h>

enum { MR = TLM_BF16_GEMM_MR, NR = TLM_BF16_GEMM_NR, NV = NR / 16, KC = 256, MC = 96, NC = 512 };

static long round_up(long x, long m) { return (x + m - 1) / m * m; }
static long min_long(long a, long b) { return a < b ? a : b; }

// Bytes: packed B (kc/2 pairs × nc columns), packed A (96 rows × pairs, rows 64-byte aligned),
// and slack to align each.
long tlm_bf16_gemm_workspace_bytes(long n, long k) {
    if (n <= 0 || k <= 0) return 0;
    long kp = (min_long(k, KC) + 1) / 2;
    long nc = min_long(NC, round_up(n, NR));
    return 4 * (kp * nc + MC * round_up(kp, 16)) + 128;
}

/// Cache lines of a strided block to bring into L2 ahead of its packing, a few per micro-kernel
/// call, so the packing of the next block reads L2 instead of waiting for memory.
typedef struct {
    const char *base;
    long rows, rowBytes, stride;   // the block: `rows` runs of `rowBytes`, `stride` bytes apart
    long row, offset;              // the next line
} Prefetch;

static Prefetch prefetch_block(const float *p, long rows, long cols, long ld) {
    Prefetch f = {(const char *)p, rows, cols * 4, ld * 4, 0, 0};
    return f;
}

static inline void prefetch_lines(Prefetch *f, long lines) {
    for (; lines > 0 && f->row < f->rows; lines--) {
        _mm_prefetch(f->base + f->row * f->stride + f->offset, _MM_HINT_T1);
        f->offset += 64;
        if (f->offset >= f->rowBytes) { f->offset = 0; f->row++; }
    }
}

/// Two blocks to prefetch, the first before the second.
typedef struct { Prefetch first, second; } Prefetches;

static inline void prefetch_next(Prefetches *p, long lines) {
    long before = p->first.rows - p->first.row;
    if (before > 0) prefetch_lines(&p->first, lines); else prefetch_lines(&p->second, lines);
}

static long prefetch_size(const Prefetch *f) { return f->rows * ((f->rowBytes + 63) / 64 + 1); }

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))), apply_to = function)

/// The low `n` lanes (n in 0...16).
static inline __mmask16 lanes(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/// 32 floats (`n` of them valid, the rest read as zero) as 16 pairs of bf16, in order.
static inline __m512i convert32(const float *p, long n) {
    __m512 lo = _mm512_maskz_loadu_ps(lanes(n), p);
    __m512 hi = n > 16 ? _mm512_maskz_loadu_ps(lanes(n - 16), p + 16) : _mm512_setzero_ps();
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

void tlm_bf16_convert(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i += 32) {
        long left = min_long(32, n - i);
        __m512i x = convert32(src + i, left);
        _mm512_mask_storeu_epi16(dst + i, left >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << left) - 1), x);
    }
}

/// Rows 2q and 2q+1 of `src` (row stride `ld`; `kc` rows, a missing last row read as zero),
/// columns 0 ..< w, as pairs: dst[q·stride + j] = (src[2q][j], src[2q+1][j]). Writes whole
/// vectors of 16 columns (zero past w): stride >= w rounded up to 16.
static inline void pack_row_pairs(const float *src, long ld, long kc, long w, uint32_t *dst, long stride) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    long kp = (kc + 1) / 2;
    for (long q = 0; q < kp; q++) {
        const float *r0 = src + 2 * q * ld, *r1 = r0 + ld;
        int second = 2 * q + 1 < kc;
        uint32_t *d = dst + q * stride;
        for (long j = 0; j < w; j += 16) {
            __mmask16 m = lanes(w - j);
            __m512 lo = _mm512_maskz_loadu_ps(m, r0 + j);
            __m512 hi = second ? _mm512_maskz_loadu_ps(m, r1 + j) : _mm512_setzero_ps();
            __m512i x = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);   // row 2q in the low half
            _mm512_storeu_si512(d + j, _mm512_permutexvar_epi16(interleave, x));
        }
    }
}

/// `rows` rows of `src` (row stride `ld`), `kc` floats each, as pairs along the row:
/// dst[r·stride + q] = (src[r][2q], src[r][2q+1]), zero padded to whole vectors
/// (stride >= kc/2 rounded up to 16).
static inline void pack_rows_as_pairs(const float *src, long ld, long rows, long kc, uint32_t *dst, long stride) {
    for (long r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        uint32_t *d = dst + r * stride;
        for (long p = 0; p < kc; p += 32) _mm512_storeu_si512(d + p / 2, convert32(s + p, kc - p));
    }
}

/// Transposes 16 vectors of 16 32-bit elements: x[i][j] becomes x[j][i].
static inline void transpose16(__m512i x[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
    }
    // Per 128-bit lane L: x[4g + c] holds rows 4g ..< 4g+4 of column 4L + c.
    for (int g = 0; g < 4; g++) {
        x[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        x[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        x[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        x[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i a0 = _mm512_shuffle_i32x4(x[c], x[4 + c], 0x44), a1 = _mm512_shuffle_i32x4(x[c], x[4 + c], 0xEE);
        __m512i b0 = _mm512_shuffle_i32x4(x[8 + c], x[12 + c], 0x44), b1 = _mm512_shuffle_i32x4(x[8 + c], x[12 + c], 0xEE);
        t[c] = _mm512_shuffle_i32x4(a0, b0, 0x88);
        t[4 + c] = _mm512_shuffle_i32x4(a0, b0, 0xDD);
        t[8 + c] = _mm512_shuffle_i32x4(a1, b1, 0x88);
        t[12 + c] = _mm512_shuffle_i32x4(a1, b1, 0xDD);
    }
    for (int i = 0; i < 16; i++) x[i] = t[i];
}

/// Columns 0 ..< w of a k block of op(B) where B is stored transposed (column j of op(B) is
/// row j of `src`, `ld` apart, `kc` floats of it): dst[q·stride + j] = (src[j][2q], src[j][2q+1]),
/// through in-register transposes of 16 columns by 16 pairs (zero past w: stride >= w rounded up to 16).
static inline void pack_columns_as_pairs(const float *src, long ld, long kc, long w, uint32_t *dst, long stride) {
    long kp = (kc + 1) / 2;
    for (long j = 0; j < w; j += 16) {
        long cols = min_long(16, w - j);
        for (long p = 0; p < kc; p += 32) {
            __m512i x[16];
            for (int c = 0; c < 16; c++) x[c] = c < cols ? convert32(src + (j + c) * ld + p, kc - p) : _mm512_setzero_si512();
            transpose16(x);
            long q0 = p / 2, nq = min_long(16, kp - q0);
            for (long q = 0; q < nq; q++) _mm512_storeu_si512(dst + (q0 + q) * stride + j, x[q]);
        }
    }
}

/// C[rows × 16·nv] (+)= A[rows × kp pairs] · B[kp pairs × 16·nv] for constant rows and nv (the
/// last vector's columns masked by `last`). Row r of A: its pair q at a[r·rs + q·as]; B: per pair,
/// nv vectors, contiguous.
static inline __attribute__((always_inline)) void micro_kernel(
    const int rows, const int nv, long kp, const uint32_t *a, long rs, long as, const uint32_t *b,
    float *c, long ldc, int accumulate, __mmask16 last, Prefetches *pf, long burst, long gap) {
    __m512 acc[MR][NV];
    const uint32_t *ar[MR];
    for (int r = 0; r < rows; r++) {
        ar[r] = a + r * rs;
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    }
    if (accumulate) {
        // C's tile is read at the end: ask for its lines now (6 rows of up to 4 lines).
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(c + r * ldc + 16 * v), _MM_HINT_T0);
    }
    long off = 0, countdown = gap;
    for (long q = 0; q < kp; q++) {
        if (--countdown == 0) {
            prefetch_next(pf, burst);
            countdown = gap;
        }
        __m512bh bv[NV];
        for (int v = 0; v < nv; v++) bv[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
        for (int r = 0; r < rows; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)ar[r][off]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
        }
        b += 16 * nv;
        off += as;
    }
    for (int r = 0; r < rows; r++) {
        float *cr = c + r * ldc;
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 x = acc[r][v];
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, cr + 16 * v));
            _mm512_mask_storeu_ps(cr + 16 * v, m, x);
        }
    }
}

typedef void (*Kernel)(long kp, const uint32_t *a, long rs, long as, const uint32_t *b, float *c, long ldc,
                       int accumulate, __mmask16 last, Prefetches *pf, long burst, long gap);

#define KERNEL(R, V)                                                                                          \
    static __attribute__((noinline)) void kernel_##R##_##V(long kp, const uint32_t *a, long rs, long as,      \
                                                           const uint32_t *b, float *c, long ldc,            \
                                                           int accumulate, __mmask16 last, Prefetches *pf,     \
                                                           long burst, long gap) {                           \
        micro_kernel(R, V, kp, a, rs, as, b, c, ldc, accumulate, last, pf, burst, gap);                       \
    }
#define KERNEL_ROW(R) KERNEL(R, 1) KERNEL(R, 2) KERNEL(R, 3) KERNEL(R, 4)
KERNEL_ROW(1) KERNEL_ROW(2) KERNEL_ROW(3) KERNEL_ROW(4) KERNEL_ROW(5) KERNEL_ROW(6)
#define KERNELS(R) {kernel_##R##_1, kernel_##R##_2, kernel_##R##_3, kernel_##R##_4}
static const Kernel kernels[MR][NV] = {KERNELS(1), KERNELS(2), KERNELS(3), KERNELS(4), KERNELS(5), KERNELS(6)};

#pragma clang attribute pop

static void *align64(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/// C[rows, cols] = beta · C (exactly zero for beta 0, even over NaN).
static void scale_c(float *c, long ldc, long row0, long row1, long col0, long col1, float beta) {
    for (long i = row0; i < row1; i++) {
        float *r = c + i * ldc;
        for (long j = col0; j < col1; j++) r[j] = beta == 0 ? 0 : r[j] * beta;
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
void tlm_bf16_gemm(int transA, int transB, long k, const float *a, long lda, const float *b, long ldb,
                   float *c, long ldc, float beta, long row0, long row1, long col0, long col1, void *workspace) {
    if (row1 <= row0 || col1 <= col0) return;
    if (k <= 0 || (beta != 0 && beta != 1)) {
        scale_c(c, ldc, row0, row1, col0, col1, beta);
        if (k <= 0) return;
        beta = 1;
    }
    long kpMax = (min_long(k, KC) + 1) / 2;
    uint32_t *packedB = align64(workspace);
    uint32_t *packedA = align64(packedB + kpMax * min_long(NC, round_up(col1 - col0, NR)));
    // op(A)'s block of rows [i, i + mc) and depth [p, p + kc), and op(B)'s of columns [j, j + nc), as stored.
#define A_BLOCK(i, mc, p, kc) (transA ? prefetch_block(a + (p) * lda + (i), (kc), (mc), lda) : prefetch_block(a + (i) * lda + (p), (mc), (kc), lda))
#define B_BLOCK(j, nc, p, kc) (transB ? prefetch_block(b + (j) * ldb + (p), (nc), (kc), ldb) : prefetch_block(b + (p) * ldb + (j), (kc), (nc), ldb))
    for (long jc = col0; jc < col1; jc += NC) {
        long nc = min_long(NC, col1 - jc);
        for (long pc = 0; pc < k; pc += KC) {
            long kc = min_long(KC, k - pc), kp = (kc + 1) / 2;
            int accumulate = pc > 0 || beta != 0;
            // B: sliver s (columns jr ..< jr + 64) at packedB + jr·kp, 16·nv pairs per pair of k.
            for (long jr = 0; jr < nc; jr += NR) {
                long w = min_long(NR, nc - jr), stride = round_up(w, 16);
                if (transB) {
                    pack_columns_as_pairs(b + (jc + jr) * ldb + pc, ldb, kc, w, packedB + jr * kp, stride);
                } else {
                    pack_row_pairs(b + pc * ldb + jc + jr, ldb, kc, w, packedB + jr * kp, stride);
                }
            }
            // While this k block computes, the next one's B block (or the next column block's) comes in.
            long npc = pc + KC < k ? pc + KC : 0, njc = pc + KC < k ? jc : jc + NC;
            Prefetch nextB = B_BLOCK(njc, min_long(NC, col1 - njc), npc, min_long(KC, k - npc));
            if (njc >= col1) nextB.rows = 0;
            long slivers = (nc + NR - 1) / NR, tiles = (row1 - row0 + MR - 1) / MR;
            long bLines = (prefetch_size(&nextB) + slivers * tiles - 1) / (slivers * tiles);
            for (long ic = row0; ic < row1; ic += MC) {
                long mc = min_long(MC, row1 - ic);
                // A: row r's pair q at packedA[r·rs + q·as].
                long rs, as;
                if (transA) {
                    rs = 1;
                    as = round_up(mc, 16);
                    pack_row_pairs(a + pc * lda + ic, lda, kc, mc, packedA, as);
                } else {
                    rs = round_up(kp, 16);
                    as = 1;
                    pack_rows_as_pairs(a + ic * lda + pc, lda, mc, kc, packedA, rs);
                }
                // While this row block computes, the next one comes in (or the first of the next k block).
                Prefetch nextA = ic + MC < row1 ? A_BLOCK(ic + MC, min_long(MC, row1 - ic - MC), pc, kc)
                                                : A_BLOCK(row0, min_long(MC, row1 - row0), npc, min_long(KC, k - npc));
                if (ic + MC >= row1 && njc >= col1) nextA.rows = 0;
                long calls = slivers * ((mc + MR - 1) / MR);
                long aLines = (prefetch_size(&nextA) + calls - 1) / calls;
                // Spread over each call's pairs of k: `burst` lines every `gap` pairs.
                Prefetches next = {nextA, nextB};
                long lines = aLines + bLines, burst = (lines + kp - 1) / kp;
                long gap = lines > 0 ? kp * burst / lines : kp + 1;
                if (gap < 1) gap = 1;
                for (long ir = 0; ir < mc; ir += MR) {
                    long rows = min_long(MR, mc - ir);
                    for (long jr = 0; jr < nc; jr += NR) {
                        long w = min_long(NR, nc - jr), nv = (w + 15) / 16;
                        __mmask16 last = lanes(w - 16 * (nv - 1));
                        kernels[rows - 1][nv - 1](kp, packedA + ir * rs, rs, as, packedB + jr * kp,
                                                  c + (ic + ir) * ldc + jc + jr, ldc, accumulate, last,
                                                  &next, burst, gap);
                    }
                }
                nextB = next.second;
            }
        }
    }
#undef A_BLOCK
#undef B_BLOCK
}

#else
// Not x86-64: never called (the path is never selected); defined so the target links.
long tlm_bf16_gemm_workspace_bytes(long n, long k) { (void)n; (void)k; return 0; }
void tlm_bf16_convert(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = tlm_bf16_from_float(src[i]);
}
void tlm_bf16_gemm(int transA, int transB, long k, const float *a, long lda, const float *b, long ldb,
                   float *c, long ldc, float beta, long row0, long row1, long col0, long col1, void *workspace) {
    (void)transA; (void)transB; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc;
    (void)beta; (void)row0; (void)row1; (void)col0; (void)col1; (void)workspace;
}
#endif

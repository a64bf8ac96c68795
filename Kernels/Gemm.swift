// Shared by every kernel variant (see Package.swift). Matrix multiply, row-major throughout.
//
// Design (Sources/TinyLM.docc/Kernels.md, "The matrix multiply"; tile sizes in each Variant.swift): a register-blocked
// micro-kernel computes `gemmMR` rows × `gemmNR` columns of C (`gemmNV` vectors per row: 6×64
// with SIMD16 on AVX-512, 6×16 with SIMD8 on AVX2), one broadcast of A and `gemmNV` loads of B
// per `gemmNV · gemmMR` FMAs, all accumulators in registers (no spills: check `objdump -d`);
// the kernels support `gemmMR` of 2, 4 or 6 and `gemmNV` up to 4.
//   A: read in place (row pointers `lda` apart). A transposed A is read down its columns,
//      `lda` apart, which thrashes L1 sets: each block is first copied with a short stride.
//   B: packed per k block into slivers of `kc` rows × `gemmNR` floats, zero padded (a
//      transposed B through in-register square transposes); or, not transposed and with few
//      rows to share the copy (`gemmPackBMinRows`), read in place.
// Loops, outermost first: column block (≤ gemmNC) → k block (≤ gemmKC; pack B) → row block
// (≤ gemmMC; pack a transposed A) → row tile → B sliver → micro-kernel. Two threads split the
// rows, or the B slivers when there are few rows; small products stay on one thread. Edge
// tiles: a short last row tile runs a 2- or 4-row kernel (repeating its last row as needed),
// a narrow last sliver a narrower kernel, and a partial vector goes through a scratch tile.
// Measured on a 2-vCPU Zen 4 (AVX-512 double-pumped, so SIMD16 and SIMD8 peak alike at ~117
// GFLOP/s per core): ~100-110 GFLOP/s on one thread, ~190-210 on two.

import Dispatch

/// Depth of a packed B panel (floats of k per pass over C).
let gemmKC = 128
/// Rows of A per block (a multiple of `gemmMR` keeps tiles whole).
let gemmMC = 96
/// Most columns of B packed at once per thread.
let gemmNC = 512
/// Columns of C per micro-tile.
let gemmNR = gemmNV * Vec.scalarCount
/// Below this many flops (2·m·n·k) one thread does the work: waking the second thread of a
/// `concurrentPerform` costs ~40-50 µs here (measured: m = 64, n = 512, k = 128 ran faster on
/// one thread, m = 96 on two).
let gemmMinParallelFlops = 12_000_000
/// Split the rows between threads when each gets at least this many; else the columns.
let gemmMinRowsPerThread = 64

// MARK: - Rows of a micro-tile: 1 to 4 vectors held in registers

/// One row of a micro-tile: `vectors` SIMD vectors of C kept in registers. Generic code over
/// this protocol is specialized per row type, so the fields stay in registers.
protocol GemmRow {
    static var vectors: Int { get }
    init()
    init(_ p: UnsafeRawPointer)
    func store(_ p: UnsafeMutableRawPointer)
    /// `self += broadcast(a) · b`
    mutating func fma(_ a: Vec, _ b: Self)
    mutating func add(_ o: Self)
}

private let vecBytes = MemoryLayout<Vec>.stride

struct GemmRow1: GemmRow {
    var v0: Vec
    static var vectors: Int { 1 }
    @inline(__always) init() { v0 = Vec() }
    @inline(__always) init(_ p: UnsafeRawPointer) { v0 = p.loadUnaligned(as: Vec.self) }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer) { p.storeBytes(of: v0, as: Vec.self) }
    @inline(__always) mutating func fma(_ a: Vec, _ b: Self) { v0 = vfma(v0, a, b.v0) }
    @inline(__always) mutating func add(_ o: Self) { v0 += o.v0 }
}

struct GemmRow2: GemmRow {
    var v0, v1: Vec
    static var vectors: Int { 2 }
    @inline(__always) init() { v0 = Vec(); v1 = Vec() }
    @inline(__always) init(_ p: UnsafeRawPointer) {
        v0 = p.loadUnaligned(as: Vec.self)
        v1 = p.loadUnaligned(fromByteOffset: vecBytes, as: Vec.self)
    }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer) {
        p.storeBytes(of: v0, as: Vec.self)
        p.storeBytes(of: v1, toByteOffset: vecBytes, as: Vec.self)
    }
    @inline(__always) mutating func fma(_ a: Vec, _ b: Self) {
        v0 = vfma(v0, a, b.v0); v1 = vfma(v1, a, b.v1)
    }
    @inline(__always) mutating func add(_ o: Self) { v0 += o.v0; v1 += o.v1 }
}

struct GemmRow3: GemmRow {
    var v0, v1, v2: Vec
    static var vectors: Int { 3 }
    @inline(__always) init() { v0 = Vec(); v1 = Vec(); v2 = Vec() }
    @inline(__always) init(_ p: UnsafeRawPointer) {
        v0 = p.loadUnaligned(as: Vec.self)
        v1 = p.loadUnaligned(fromByteOffset: vecBytes, as: Vec.self)
        v2 = p.loadUnaligned(fromByteOffset: 2 * vecBytes, as: Vec.self)
    }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer) {
        p.storeBytes(of: v0, as: Vec.self)
        p.storeBytes(of: v1, toByteOffset: vecBytes, as: Vec.self)
        p.storeBytes(of: v2, toByteOffset: 2 * vecBytes, as: Vec.self)
    }
    @inline(__always) mutating func fma(_ a: Vec, _ b: Self) {
        v0 = vfma(v0, a, b.v0); v1 = vfma(v1, a, b.v1); v2 = vfma(v2, a, b.v2)
    }
    @inline(__always) mutating func add(_ o: Self) { v0 += o.v0; v1 += o.v1; v2 += o.v2 }
}

struct GemmRow4: GemmRow {
    var v0, v1, v2, v3: Vec
    static var vectors: Int { 4 }
    @inline(__always) init() { v0 = Vec(); v1 = Vec(); v2 = Vec(); v3 = Vec() }
    @inline(__always) init(_ p: UnsafeRawPointer) {
        v0 = p.loadUnaligned(as: Vec.self)
        v1 = p.loadUnaligned(fromByteOffset: vecBytes, as: Vec.self)
        v2 = p.loadUnaligned(fromByteOffset: 2 * vecBytes, as: Vec.self)
        v3 = p.loadUnaligned(fromByteOffset: 3 * vecBytes, as: Vec.self)
    }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer) {
        p.storeBytes(of: v0, as: Vec.self)
        p.storeBytes(of: v1, toByteOffset: vecBytes, as: Vec.self)
        p.storeBytes(of: v2, toByteOffset: 2 * vecBytes, as: Vec.self)
        p.storeBytes(of: v3, toByteOffset: 3 * vecBytes, as: Vec.self)
    }
    @inline(__always) mutating func fma(_ a: Vec, _ b: Self) {
        v0 = vfma(v0, a, b.v0); v1 = vfma(v1, a, b.v1); v2 = vfma(v2, a, b.v2); v3 = vfma(v3, a, b.v3)
    }
    @inline(__always) mutating func add(_ o: Self) { v0 += o.v0; v1 += o.v1; v2 += o.v2; v3 += o.v3 }
}

// MARK: - Micro-kernel

/// How many rows a micro-kernel instance computes (2, 4 or 6; at most `gemmMR`): a short last
/// row tile uses a shorter kernel instead of computing rows it throws away.
protocol GemmTileRows { static var count: Int { get } }
enum GemmRows2: GemmTileRows { static var count: Int { 2 } }
enum GemmRows4: GemmTileRows { static var count: Int { 4 } }
enum GemmRows6: GemmTileRows { static var count: Int { 6 } }

/// `C[rows × R.width] (+)= A[rows × kc] · Bpacked[kc × R.width]` for `rows ≤ M.count`.
///
/// Row `r` of A starts at `a + r·rowStep` and its next element is `aStep` floats further on
/// (`rowStep = lda, aStep = 1` for A read in place; `rowStep = 1, aStep = gemmMR` for a packed
/// A tile). `b` holds `kc` rows of `R.vectors` vectors, `ldb` floats apart: a packed sliver
/// (`ldb` = its width) or B itself. Rows from `rows` to `M.count` repeat the last valid row
/// and are not stored.
@inline(never)
func gemmMicroKernel<R: GemmRow, M: GemmTileRows>(
    _: R.Type, _: M.Type, rows: Int, kc: Int, a: UnsafePointer<Float>, rowStep: Int, aStep: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    let mr = M.count
    let last = rows &- 1
    let a0 = a
    let a1 = a + min(1, last) &* rowStep
    let a2 = a + min(2, last) &* rowStep
    let a3 = a + min(3, last) &* rowStep
    let a4 = a + min(4, last) &* rowStep
    let a5 = a + min(5, last) &* rowStep
    var c0 = R(), c1 = R(), c2 = R(), c3 = R(), c4 = R(), c5 = R()
    var bp = UnsafeRawPointer(b)
    let bStep = ldb &* MemoryLayout<Float>.stride
    var off = 0
    var p = kc
    while p > 0 {
        let bv = R(bp)
        c0.fma(Vec(repeating: a0[off]), bv)
        c1.fma(Vec(repeating: a1[off]), bv)
        if mr > 2 {
            c2.fma(Vec(repeating: a2[off]), bv)
            c3.fma(Vec(repeating: a3[off]), bv)
        }
        if mr > 4 {
            c4.fma(Vec(repeating: a4[off]), bv)
            c5.fma(Vec(repeating: a5[off]), bv)
        }
        off &+= aStep
        bp += bStep
        p &-= 1
    }
    let cr = UnsafeMutableRawPointer(c)
    let rs = ldc &* MemoryLayout<Float>.stride
    if accumulate {
        c0.add(R(cr))
        if rows > 1 { c1.add(R(cr + rs)) }
        if mr > 2 && rows > 2 { c2.add(R(cr + 2 &* rs)) }
        if mr > 2 && rows > 3 { c3.add(R(cr + 3 &* rs)) }
        if mr > 4 && rows > 4 { c4.add(R(cr + 4 &* rs)) }
        if mr > 4 && rows > 5 { c5.add(R(cr + 5 &* rs)) }
    }
    c0.store(cr)
    if rows > 1 { c1.store(cr + rs) }
    if mr > 2 && rows > 2 { c2.store(cr + 2 &* rs) }
    if mr > 2 && rows > 3 { c3.store(cr + 3 &* rs) }
    if mr > 4 && rows > 4 { c4.store(cr + 4 &* rs) }
    if mr > 4 && rows > 5 { c5.store(cr + 5 &* rs) }
}

/// The micro-kernel for `rows ≤ gemmMR` rows and a sliver of `vectors` vectors (≤ gemmNV).
@inline(__always)
private func gemmTile(
    vectors: Int, rows: Int, kc: Int, a: UnsafePointer<Float>, rowStep: Int, aStep: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    if gemmMR > 4 && rows > 4 {
        gemmTile(GemmRows6.self, vectors: vectors, rows: rows, kc: kc, a: a, rowStep: rowStep,
                 aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    } else if gemmMR > 2 && rows > 2 {
        gemmTile(GemmRows4.self, vectors: vectors, rows: rows, kc: kc, a: a, rowStep: rowStep,
                 aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    } else {
        gemmTile(GemmRows2.self, vectors: vectors, rows: rows, kc: kc, a: a, rowStep: rowStep,
                 aStep: aStep, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    }
}

@inline(__always)
private func gemmTile<M: GemmTileRows>(
    _ m: M.Type, vectors: Int, rows: Int, kc: Int, a: UnsafePointer<Float>, rowStep: Int, aStep: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    switch vectors {
    case 4 where gemmNV >= 4:
        gemmMicroKernel(GemmRow4.self, m, rows: rows, kc: kc, a: a, rowStep: rowStep, aStep: aStep,
                        b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    case 3 where gemmNV >= 3:
        gemmMicroKernel(GemmRow3.self, m, rows: rows, kc: kc, a: a, rowStep: rowStep, aStep: aStep,
                        b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    case 2 where gemmNV >= 2:
        gemmMicroKernel(GemmRow2.self, m, rows: rows, kc: kc, a: a, rowStep: rowStep, aStep: aStep,
                        b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    default:
        gemmMicroKernel(GemmRow1.self, m, rows: rows, kc: kc, a: a, rowStep: rowStep, aStep: aStep,
                        b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    }
}

// MARK: - Packing B

/// Packs `op(B)[pc ..< pc+kc, j0 ..< j0+w]` as `kc` rows of `width ≥ w` floats (zero padded).
@inline(__always)
private func gemmPackB(
    transB: Bool, b: UnsafePointer<Float>, ldb: Int, pc: Int, kc: Int, j0: Int, w: Int,
    width: Int, dst: UnsafeMutablePointer<Float>
) {
    if transB {
        // B is stored n×k: column j of op(B) is row j of B, contiguous in k. Transpose square
        // blocks of one vector in registers, the ragged edges element by element.
        let vw = Vec.scalarCount
        let square = vw == 16 || vw == 8
        var j = 0
        while j < w {
            let cols = min(vw, w &- j)
            let src = b + ((j0 &+ j) &* ldb &+ pc)
            var p = 0
            if square && cols == vw {
                while p &+ vw <= kc {
                    transposeSquare(src + p, ld: ldb, dst + (p &* width &+ j), ldd: width)
                    p &+= vw
                }
            }
            while p < kc {
                let d = dst + (p &* width &+ j)
                for q in 0..<cols { d[q] = src[q &* ldb &+ p] }
                p &+= 1
            }
            j &+= vw
        }
        if w < width {
            for p in 0..<kc {
                let d = dst + p &* width
                for j in w..<width { d[j] = 0 }
            }
        }
    } else {
        let vw = Vec.scalarCount
        for p in 0..<kc {
            let s = UnsafeRawPointer(b + ((pc &+ p) &* ldb &+ j0))
            let d = dst + p &* width
            let dr = UnsafeMutableRawPointer(d)
            var j = 0
            while j &+ vw <= w {
                dr.storeBytes(of: s.loadUnaligned(fromByteOffset: j &* 4, as: Vec.self),
                              toByteOffset: j &* 4, as: Vec.self)
                j &+= vw
            }
            let sf = s.assumingMemoryBound(to: Float.self)
            while j < w { d[j] = sf[j]; j &+= 1 }
            while j < width { d[j] = 0; j &+= 1 }
        }
    }
}

/// Row stride of a packed block of transposed A with `mc` columns: a whole number of
/// 64-byte lines.
@inline(__always)
private func gemmPackedALeading(_ mc: Int) -> Int { (mc &+ 15) & ~15 }

/// `p` rounded up to a multiple of 64 bytes (the workspace has slack for this).
@inline(__always)
private func gemmAlign64(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
    let bytes = Int(bitPattern: UInt(bitPattern: Int(bitPattern: p)) & 63)
    return bytes == 0 ? p : p + (64 &- bytes) / 4
}

/// Copies `A[i0 ..< i0+mc, pc ..< pc+kc]` of a transposed A (stored k×m, so this is `kc` rows
/// of `mc` contiguous floats) to `kc` rows `ldp` floats apart: the same layout with a short
/// row stride, so a tile's column of A no longer strides by `lda` (which thrashes L1 sets).
@inline(__always)
private func gemmPackATransposed(
    a: UnsafePointer<Float>, lda: Int, i0: Int, mc: Int, pc: Int, kc: Int,
    dst: UnsafeMutablePointer<Float>, ldp: Int
) {
    let vw = Vec.scalarCount
    for p in 0..<kc {
        let s = UnsafeRawPointer(a + ((pc &+ p) &* lda &+ i0))
        let d = dst + p &* ldp
        let dr = UnsafeMutableRawPointer(d)
        var j = 0
        while j &+ vw <= mc {
            dr.storeBytes(of: s.loadUnaligned(fromByteOffset: j &* 4, as: Vec.self),
                          toByteOffset: j &* 4, as: Vec.self)
            j &+= vw
        }
        let sf = s.assumingMemoryBound(to: Float.self)
        while j < mc { d[j] = sf[j]; j &+= 1 }
    }
}

// MARK: - Public entry points

public enum Gemm {
    /// Floats of scratch `sgemm` needs for these sizes (pass at least this many as `workspace`).
    public static func workspaceSize(m: Int, n: Int, k: Int, threads: Int) -> Int {
        if m <= 0 || n <= 0 || k <= 0 { return 0 }
        return plan(m: m, n: n, k: k, threads: threads).threads * perThreadFloats(n: n, k: k)
    }

    /// `C[m×n] = op(A)[m×k] · op(B)[k×n] + beta · C`, all row-major.
    ///
    /// `op(A)` is `A` stored `m×k` (leading dimension `lda >= k`), or with `transA` the
    /// transpose of `A` stored `k×m` (`lda >= m`); likewise `B`. `beta` is 0 (overwrite; C
    /// may hold garbage, even NaN) or 1 (accumulate); other values scale C first. Uses up to
    /// `threads` threads and no heap memory beyond `workspace` (`workspaceSize` floats).
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float, threads: Int, workspace: UnsafeMutablePointer<Float>?
    ) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 {
            scaleC(c: c, ldc: ldc, rows: 0..<m, cols: 0..<n, beta: beta)
            return
        }
        guard let workspace else {
            preconditionFailure("Gemm.sgemm needs a workspace of Gemm.workspaceSize floats")
        }
        let plan = plan(m: m, n: n, k: k, threads: threads)
        let perThread = perThreadFloats(n: n, k: k)
        let job = GemmJob(
            transA: transA, transB: transB, k: k, a: a, lda: lda, b: b, ldb: ldb,
            c: c, ldc: ldc, beta: beta)
        if plan.threads <= 1 {
            job.run(rows: 0..<m, cols: 0..<n, workspace: workspace)
            return
        }
        let t = plan.threads
        let splitCols = plan.splitCols
        // The threads write disjoint rectangles of C and disjoint workspace slices.
        nonisolated(unsafe) let sharedJob = job
        nonisolated(unsafe) let sharedWorkspace = workspace
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let ws = sharedWorkspace + i &* perThread
            if splitCols {
                let slivers = (n &+ gemmNR &- 1) / gemmNR
                let lo = min(n, slivers &* i / t &* gemmNR)
                let hi = min(n, slivers &* (i &+ 1) / t &* gemmNR)
                if hi > lo { sharedJob.run(rows: 0..<m, cols: lo..<hi, workspace: ws) }
            } else {
                let tiles = (m &+ gemmMR &- 1) / gemmMR
                let lo = min(m, tiles &* i / t &* gemmMR)
                let hi = min(m, tiles &* (i &+ 1) / t &* gemmMR)
                if hi > lo { sharedJob.run(rows: lo..<hi, cols: 0..<n, workspace: ws) }
            }
        }
    }

    /// How many threads, and whether they split the columns (B slivers) or the rows.
    static func plan(m: Int, n: Int, k: Int, threads: Int) -> (threads: Int, splitCols: Bool) {
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        var t = max(1, threads)
        if flops < Double(gemmMinParallelFlops) { t = 1 }
        let slivers = (n + gemmNR - 1) / gemmNR
        let tiles = (m + gemmMR - 1) / gemmMR
        t = min(t, max(slivers, tiles))
        if t <= 1 { return (1, false) }
        // Rows when every thread gets a good many: each then reuses its A tiles across all
        // slivers (measured faster even where it packs more of B). Columns for few rows
        // (sampling) when they divide evenly enough.
        if slivers < t || m >= gemmMinRowsPerThread * t { return (min(t, tiles), false) }
        if tiles < t { return (t, true) }
        func imbalance(_ units: Int) -> Double { Double((units + t - 1) / t * t) / Double(units) }
        return (t, imbalance(slivers) <= imbalance(tiles))
    }

    /// One thread's scratch: a packed B block, a packed A block, a scratch tile, and slack to
    /// align them.
    static func perThreadFloats(n: Int, k: Int) -> Int {
        let kc = min(k, gemmKC)
        let nc = min(gemmNC, (n + gemmNR - 1) / gemmNR * gemmNR)
        return kc * nc + kc * gemmPackedALeading(gemmMC) + gemmMR * gemmNR + 48
    }

    /// `C[rows, cols] = beta · C` (exactly zero for beta 0, even over NaN).
    static func scaleC(c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, cols: Range<Int>, beta: Float) {
        if beta == 1 { return }
        for i in rows {
            let row = c + i &* ldc
            if beta == 0 {
                for j in cols { row[j] = 0 }
            } else {
                for j in cols { row[j] *= beta }
            }
        }
    }
}

/// The operands of one `sgemm` call; `run` does a rectangle of C on the calling thread.
private struct GemmJob {
    let transA: Bool, transB: Bool
    let k: Int
    let a: UnsafePointer<Float>
    let lda: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let beta: Float

    func run(rows: Range<Int>, cols: Range<Int>, workspace: UnsafeMutablePointer<Float>) {
        // Workspace: packed B block, packed A block (transposed A only), scratch tile; each
        // aligned to 64 bytes.
        let kcMax = min(k, gemmKC)
        let packedB = gemmAlign64(workspace)
        let packedA = gemmAlign64(packedB + kcMax &* min(gemmNC, (cols.count &+ gemmNR &- 1) / gemmNR &* gemmNR))
        let scratch = gemmAlign64(packedA + (transA ? kcMax &* gemmPackedALeading(gemmMC) : 0))
        var beta = beta
        if beta != 0 && beta != 1 {
            Gemm.scaleC(c: c, ldc: ldc, rows: rows, cols: cols, beta: beta)
            beta = 1
        }
        // B as stored (not transposed) can be read in place, its rows `ldb` apart, instead of
        // packed: worth it when few rows share each packed copy (e.g. a weight gradient Aᵀ·B
        // with k ≫ m), where the copy would be a large part of the work.
        let bInPlace = !transB && rows.count < gemmPackBMinRows
        var jc = cols.lowerBound
        while jc < cols.upperBound {
            let nc = min(gemmNC, cols.upperBound &- jc)
            var pc = 0
            while pc < k {
                let kc = min(gemmKC, k &- pc)
                let accumulate = pc > 0 || beta != 0
                // Pack this k block of the column block, sliver by sliver (but slivers read
                // in place).
                var jr = 0
                while jr < nc {
                    let w = min(gemmNR, nc &- jr)
                    let width = sliverVectors(w) &* Vec.scalarCount
                    if !(bInPlace && w == width) {
                        gemmPackB(transB: transB, b: b, ldb: ldb, pc: pc, kc: kc, j0: jc &+ jr, w: w,
                                  width: width, dst: packedB + jr &* kc)
                    }
                    jr &+= gemmNR
                }
                var ic = rows.lowerBound
                while ic < rows.upperBound {
                    let mc = min(gemmMC, rows.upperBound &- ic)
                    // A tile: rows at `aBase + r·rowStep`, next k at `+ kStep`.
                    let aBase: UnsafePointer<Float>, rowStep: Int, kStep: Int, tileStep: Int
                    if transA {
                        let ldp = gemmPackedALeading(mc)
                        gemmPackATransposed(a: a, lda: lda, i0: ic, mc: mc, pc: pc, kc: kc,
                                            dst: packedA, ldp: ldp)
                        aBase = UnsafePointer(packedA); rowStep = 1; kStep = ldp
                        tileStep = gemmMR
                    } else {
                        aBase = a + (ic &* lda &+ pc); rowStep = lda; kStep = 1
                        tileStep = gemmMR &* lda
                    }
                    // Each A tile stays in L1 while the B slivers stream from L2 (measured a
                    // little faster than keeping a B sliver in L1 across the row tiles).
                    var ir = 0
                    while ir < mc {
                        jr = 0
                        while jr < nc {
                            tile(ir: ir, jr: jr, ic: ic, mc: mc, jc: jc, nc: nc, kc: kc,
                                 aBase: aBase, rowStep: rowStep, kStep: kStep, tileStep: tileStep,
                                 pc: pc, bInPlace: bInPlace, packedB: packedB, scratch: scratch,
                                 accumulate: accumulate)
                            jr &+= gemmNR
                        }
                        ir &+= gemmMR
                    }
                    ic &+= mc
                }
                pc &+= kc
            }
            jc &+= nc
        }
    }

    /// C tile at rows `ic + ir`, columns `jc + jr` for this k block.
    @inline(__always)
    private func tile(
        ir: Int, jr: Int, ic: Int, mc: Int, jc: Int, nc: Int, kc: Int,
        aBase: UnsafePointer<Float>, rowStep: Int, kStep: Int, tileStep: Int, pc: Int, bInPlace: Bool,
        packedB: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let w = min(gemmNR, nc &- jr)
        let vectors = sliverVectors(w)
        let width = vectors &* Vec.scalarCount
        let inPlace = bInPlace && w == width
        let bp = inPlace ? b + (pc &* ldb &+ jc &+ jr) : UnsafePointer(packedB + jr &* kc)
        let bStride = inPlace ? ldb : width
        let r = min(gemmMR, mc &- ir)
        let ap = aBase + (ir / gemmMR) &* tileStep
        let cp = c + ((ic &+ ir) &* ldc &+ jc &+ jr)
        if w == width {
            gemmTile(vectors: vectors, rows: r, kc: kc, a: ap, rowStep: rowStep,
                     aStep: kStep, b: bp, ldb: bStride, c: cp, ldc: ldc, accumulate: accumulate)
        } else {
            // Partial vector: compute into the scratch tile, then merge.
            gemmTile(vectors: vectors, rows: r, kc: kc, a: ap, rowStep: rowStep,
                     aStep: kStep, b: bp, ldb: bStride, c: scratch, ldc: width, accumulate: false)
            for rr in 0..<r {
                let src = scratch + rr &* width
                let dst = cp + rr &* ldc
                if accumulate {
                    for j in 0..<w { dst[j] += src[j] }
                } else {
                    for j in 0..<w { dst[j] = src[j] }
                }
            }
        }
    }

    /// Vectors per row of a sliver holding `w` columns: the narrowest kernel that covers it.
    @inline(__always)
    private func sliverVectors(_ w: Int) -> Int {
        min(gemmNV, (w &+ Vec.scalarCount &- 1) / Vec.scalarCount)
    }
}

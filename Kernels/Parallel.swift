// Shared by every kernel variant (see Package.swift): a minimal fork-join over row ranges.
import Dispatch

/// Splits `0..<count` into at most `threads` contiguous chunks and runs `body(lo, hi)` on each,
/// on the calling thread when one chunk suffices. `minPerChunk` keeps small jobs on one thread:
/// a `concurrentPerform` costs about 20 µs (Sources/TinyLM.docc/Kernels.md, "Threads").
@inline(__always)
func parallelRanges(_ count: Int, threads: Int, minPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
    parallelChunks(count, threads: threads, minPerChunk: minPerChunk) { _, lo, hi in body(lo, hi) }
}

/// As `parallelRanges`, also passing the chunk index (< `threads`), e.g. to pick a scratch row.
@inline(__always)
func parallelChunks(_ count: Int, threads: Int, minPerChunk: Int = 1, _ body: (Int, Int, Int) -> Void) {
    let chunks = max(1, min(threads, count / max(1, minPerChunk)))
    if chunks <= 1 {
        if count > 0 { body(0, 0, count) }
        return
    }
    // The chunks write disjoint ranges; callers guarantee that, so the non-Sendable body
    // (it captures raw pointers) may run on the pool.
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks
        let hi = count * (c + 1) / chunks
        if hi > lo { body(c, lo, hi) }
    }
}

import CPOSupport
@testable import TinyLM

/// Random floats for tests, seeded.
func randomFloats(_ n: Int, seed: UInt64, scale: Double = 1) -> [Float] {
    var rng = SeededRandom(seed: seed)
    return (0..<n).map { _ in Float(rng.gaussian() * scale) }
}

/// Every fp32 kernel path this machine can run, with one and two threads: gradient and
/// agreement checks hold to fp32 accuracy (the bf16 path has its own tests, BF16Tests).
let allComputes: [Compute] = KernelPath.supported.filter { !$0.trainsInBF16 }.flatMap { p in
    [Compute(path: p, threads: 1)!, Compute(path: p, threads: 2)!]
}

/// Relative error ‖a − b‖ / max(‖b‖, tiny) over paired values.
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += (x - y) * (x - y); den += y * y }
    return (num / max(den, 1e-30)).squareRoot()
}

/// Random token sequences BOS … EOS with lengths in `lengths`, tokens below `vocab`
/// (excluding the specials so the test does not depend on them).
func randomSequences(count: Int, lengths: ClosedRange<Int>, vocab: Int, seed: UInt64) -> [[Int32]] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in
        let n = lengths.lowerBound + rng.int(below: lengths.count)
        var s: [Int32] = [256]
        for _ in 0..<(n - 2) {
            var tok = rng.int(below: vocab)
            if (256...258).contains(tok) { tok = 65 }
            s.append(Int32(tok))
        }
        s.append(257)
        return s
    }
}

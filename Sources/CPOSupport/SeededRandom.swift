import Foundation

/// A small, fast, seedable random number generator (xoshiro256**), seeded through SplitMix64.
///
/// Every random choice in cpo-tui goes through this type so that one seed fixes a whole run.
/// The bounded-integer and floating-point helpers are implemented here rather than with the
/// standard library's `random(in:using:)`, whose algorithms are not promised to stay the same
/// across Swift versions.
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable, Codable {
    public private(set) var state: [UInt64]

    /// A generator whose whole sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 { s[i] = SeededRandom.splitMix64(&sm) }
        if s == [0, 0, 0, 0] { s[0] = 1 }
        state = s
    }

    /// Restores a generator from a saved `state` (four words, not all zero).
    public init?(state: [UInt64]) {
        guard state.count == 4, state != [0, 0, 0, 0] else { return nil }
        self.state = state
    }

    /// An independent stream derived from this seed and a label, for seeding sub-components
    /// (per method, per epoch, ...) without consuming values from this generator.
    public static func derivedSeed(_ seed: UInt64, _ label: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in label.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        var sm = h
        return splitMix64(&sm)
    }

    @inline(__always)
    static func splitMix64(_ x: inout UInt64) -> UInt64 {
        x = x &+ 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    public mutating func next() -> UInt64 {
        let result = SeededRandom.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = SeededRandom.rotl(state[3], 45)
        return result
    }

    /// Uniform integer in `0..<bound` (Lemire's multiply-and-reject; exact, no modulo bias).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform `Double` in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform `Float` in [0, 1) with 24 random bits.
    public mutating func uniformFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }

    /// Standard normal draw (Box-Muller; one value per call, deterministic).
    public mutating func gaussian() -> Double {
        var u1 = uniform()
        while u1 <= 0 { u1 = uniform() }
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Fisher-Yates shuffle of `array` in place.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// Draws an index with probability proportional to `weights` (non-negative, not all zero).
    public mutating func categorical(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        precondition(total > 0, "categorical weights must have a positive sum")
        var u = uniform() * total
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 { return i }
        }
        return weights.lastIndex(where: { $0 > 0 }) ?? 0
    }
}

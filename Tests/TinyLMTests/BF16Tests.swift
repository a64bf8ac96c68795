import Foundation
import Testing
@testable import TinyLM

// The bf16 path (TinyLM.docc/Kernels.md, "The bf16 path"): the rounding, the GEMM against exact
// references, and training with it against training in fp32. Tests that run bf16 code need
// AVX512_BF16 and are skipped, with that reason, on other CPUs.

/// The `avx512-bf16` path, where this CPU has it.
private let bf16Supported = KernelPath.supported.contains(.avx512bf16)
private let needsBF16 = "this CPU has no AVX512_BF16 (CPUID leaf 7 subleaf 1, EAX bit 5)"

/// The training computes of the bf16 path: one and two threads.
private let bf16Computes: [Compute] = [1, 2].compactMap { Compute(path: .avx512bf16, threads: $0)?.forTraining }

@Suite("bf16 rounding")
struct BF16RoundingTests {
    /// Known values: exact ones, ties to even both ways, just off a tie, overflow to infinity,
    /// denormals to signed zero, infinities, NaNs made quiet (sign and top payload kept).
    static let known: [(UInt32, UInt16)] = [
        (0x3F80_0000, 0x3F80),   // 1
        (0xBF80_0000, 0xBF80),   // -1
        (0x3F80_8000, 0x3F80),   // 1 + 2^-8: a tie, to the even 0x3F80
        (0x3F81_8000, 0x3F82),   // 1 + 3·2^-8: a tie, to the even 0x3F82
        (0x3F80_8001, 0x3F81),   // just above a tie: up
        (0x3F80_7FFF, 0x3F80),   // just below a tie: down
        (0xC049_0FDB, 0xC049),   // -π
        (0x4049_0FDB, 0x4049),   // π
        (0x0080_0000, 0x0080),   // the smallest normal
        (0x7F7F_FFFF, 0x7F80),   // the largest float rounds to infinity
        (0x7F7F_0000, 0x7F7F),   // the largest bf16 is exact
        (0x0000_0000, 0x0000),   // +0
        (0x8000_0000, 0x8000),   // -0
        (0x0000_0001, 0x0000),   // denormals: signed zero
        (0x807F_FFFF, 0x8000),
        (0x7F80_0000, 0x7F80),   // +∞
        (0xFF80_0000, 0xFF80),   // -∞
        (0x7FC0_0000, 0x7FC0),   // quiet NaN
        (0x7F80_0001, 0x7FC0),   // signalling NaN, payload below bf16: quiet
        (0xFF81_2345, 0xFFC1),   // negative signalling NaN: sign and top payload kept, quiet
    ]

    @Test func referenceRoundingIsExactOnKnownValues() {
        for (x, expected) in Self.known {
            let got = BFloat16.bits(Float(bitPattern: x))
            #expect(got == expected, "\(String(x, radix: 16)) -> \(String(got, radix: 16)), expected \(String(expected, radix: 16))")
        }
        // Every finite normal bf16 value is exact: rounding it changes nothing.
        for h in UInt16.min...UInt16.max {
            let exponent = h & 0x7F80
            guard exponent != 0 && exponent != 0x7F80 else { continue }
            #expect(BFloat16.bits(BFloat16.float(h)) == h)
        }
    }

    /// `vcvtne2ps2bf16`, which packing uses, rounds exactly as the reference on the known
    /// values and on 100,000 random bit patterns (every class: NaN, denormal, huge, tiny).
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)))
    func hardwareRoundingMatchesTheReference() throws {
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        var xs = Self.known.map { Float(bitPattern: $0.0) }
        for _ in 0..<100_000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            xs.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 16)))
        }
        let hardware = try #require(BFloat16.hardwareBits(xs))
        var bad = 0
        for (x, h) in zip(xs, hardware) where h != BFloat16.bits(x) { bad += 1 }
        #expect(bad == 0, "\(bad) of \(xs.count) values rounded differently")
    }
}

/// One prepared case of GemmTests' shapes, with both references.
private struct BF16GemmCase: Sendable {
    let name: String
    let ops: GemmOperands
    /// The exact product of the operands as given, and of the operands rounded to bf16.
    let exact: (sum: [Double], mag: [Double])
    let rounded: (sum: [Double], mag: [Double])

    init(_ t: GemmCase, transA: Bool, transB: Bool, seed: UInt64) {
        ops = GemmOperands(t, transA: transA, transB: transB, seed: seed)
        exact = ops.reference()
        rounded = ops.reference(rounding: BFloat16.rounded)
        name = "\(t.testDescription) ta=\(transA) tb=\(transB)"
    }

    /// The tolerance, relative to Σ_p |a_ip·b_pj|: bf16 keeps 8 significant bits, so rounding an
    /// operand moves it by at most 2^-8 of itself (half a unit in the last place), a product by
    /// at most 2^-7 + 2^-16 of itself (the product of two bf16 is exact in fp32); plus the fp32
    /// summation bound of the fp32 GEMM.
    var bf16Tolerance: Double { 0x1p-7 + 0x1p-16 + ops.fp32Tolerance }

    func check(_ compute: Compute, beta: Float) {
        let start: [Float]
        if beta == 0 {
            var g = ops.c0
            for i in 0..<ops.m { for j in 0..<ops.n { g[i * ops.ldc + j] = .nan } }
            start = g
        } else {
            start = ops.c0
        }
        let got = ops.run(compute, beta: beta, start: start)
        let label = "t\(compute.threads) \(name) beta\(beta)"
        // The products of the rounded operands, summed in fp32: what the instructions compute.
        ops.check(got, ref: rounded, beta: beta, start: start, label: label + " vs bf16 operands")
        // Against the operands as given: within the bf16 bound, element by element.
        ops.check(got, ref: exact, beta: beta, start: start, label: label + " vs fp32 operands", tolerance: bf16Tolerance)
        // And its typical size, on blocks with enough terms to average (4,096): the RMS error is
        // at most 2^-8·√k·rms(a)·rms(b) (the per-product rounding error is about 0.53·2^-8 of
        // the product in RMS for these uniform operands, and the errors add like a random walk).
        guard ops.m * ops.n * ops.k >= 4096 else { return }
        var sq = 0.0
        for i in 0..<ops.m {
            for j in 0..<ops.n {
                let want = exact.sum[i * ops.n + j] + (beta == 0 ? 0 : Double(beta) * Double(start[i * ops.ldc + j]))
                sq += pow(Double(got[i * ops.ldc + j]) - want, 2)
            }
        }
        let rms = { (x: [Float]) in (x.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(1, x.count))).squareRoot() }
        let scale = 0x1p-8 * Double(ops.k).squareRoot() * rms(ops.a) * rms(ops.b)
        #expect((sq / Double(ops.m * ops.n)).squareRoot() <= scale, "\(label): RMS error above 2^-8·√k scale")
    }
}

private let bf16Cases: [BF16GemmCase] = {
    var seed: UInt64 = 900
    // GemmTests' shapes, plus k blocks of this GEMM (256 deep), odd k and a 64-column sliver edge.
    let extra = [GemmCase(m: 7, n: 65, k: 257, pad: 3), GemmCase(m: 13, n: 130, k: 513), GemmCase(m: 1, n: 16, k: 2)]
    return (gemmCases + extra).flatMap { t in
        transCombos.map { ta, tb in
            seed &+= 3
            return BF16GemmCase(t, transA: ta, transB: tb, seed: seed)
        }
    }
}()

@Suite("bf16 GEMM")
struct BF16GemmTests {
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)), arguments: bf16Computes)
    func matchesReferences(compute: Compute) {
        for c in bf16Cases {
            c.check(compute, beta: 0)   // over NaN garbage: it must not leak
            c.check(compute, beta: 1)
        }
        bf16Cases[5].check(compute, beta: 0.5)
    }

    /// Large enough for two threads: split by columns, then by rows.
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)), arguments: bf16Computes)
    func threadedSplits(compute: Compute) {
        for (t, ta, tb) in [(GemmCase(m: 30, n: 400, k: 520, pad: 1), false, true),
                            (GemmCase(m: 400, n: 20, k: 760), true, false)] {
            BF16GemmCase(t, transA: ta, transB: tb, seed: 501).check(compute, beta: 1)
        }
    }

    /// The training compute of the bf16 path rounds (its result is the bf16-operand product, not
    /// the fp32 one); the same path's evaluation compute does not.
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)))
    func onlyTrainingRounds() throws {
        let c = BF16GemmCase(GemmCase(m: 20, n: 40, k: 96), transA: false, transB: false, seed: 77)
        let train = try #require(bf16Computes.first), eval = try #require(Compute(path: .avx512bf16, threads: 1))
        func distance(_ got: [Float], _ ref: [Double]) -> Double {
            var sq = 0.0
            for i in 0..<c.ops.m { for j in 0..<c.ops.n { sq += pow(Double(got[i * c.ops.ldc + j]) - ref[i * c.ops.n + j], 2) } }
            return sq.squareRoot()
        }
        let trained = c.ops.run(train, beta: 0, start: c.ops.c0), evaluated = c.ops.run(eval, beta: 0, start: c.ops.c0)
        #expect(distance(trained, c.rounded.sum) < 0.01 * distance(trained, c.exact.sum))
        #expect(distance(evaluated, c.exact.sum) < 0.01 * distance(evaluated, c.rounded.sum))
    }

    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)))
    func emptyKAndEmptyOutput() throws {
        let compute = try #require(bf16Computes.first)
        checkEmptyK(compute, transB: true)
        #expect(compute.gemmWorkspaceSize(m: 0, n: 5, k: 5) == 0)
        let none = GemmOperands(GemmCase(m: 0, n: 5, k: 4), transA: true, transB: false, seed: 3)
        #expect(none.run(compute, beta: 0, start: none.c0) == none.c0)
    }
}

@Suite("bf16 training")
struct BF16TrainingTests {
    /// Sequences of a first-order Markov chain over 64 tokens, each followed by one of 4 (so the
    /// best possible loss is about log 4 ≈ 1.39 after the first token): learnable, never zero.
    static func markovBatch(count: Int, length: Int, seed: UInt64) -> [[Int32]] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next(_ n: UInt64) -> Int32 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int32(truncatingIfNeeded: state % n)
        }
        return (0..<count).map { _ in
            var s: [Int32] = [BPETokenizer.bos, 32 + next(64)]
            while s.count < length { s.append(32 + (s[s.count - 1] * 7 + 3 * next(4) + 1) % 64) }
            return s
        }
    }

    /// Training losses, step by step, of a small model on fresh Markov batches.
    static func lossCurve(_ compute: Compute, steps: Int) throws -> [Double] {
        let cfg = ModelConfig(vocabSize: 300, contextLength: 32, dModel: 64, heads: 4, layers: 2)
        let model = try Transformer(config: cfg, seed: 21, compute: compute)
        let opt = AdamW(config: AdamWConfig(learningRate: 3e-3, warmupSteps: 10, totalSteps: steps),
                        parameterCount: model.parameterCount)
        return (0..<steps).map { step in
            model.zeroGrad()
            let loss = model.nextTokenLoss(markovBatch(count: 16, length: 33, seed: UInt64(step + 1)), backward: true)
            opt.update(model)
            return loss
        }
    }

    /// The same model, seed and batches trained 60 steps in fp32 and with bf16 GEMMs: the loss
    /// curves agree within 0.5% of the loss at every step (measured: at most 0.05%; the loss falls
    /// from 5.7 to about 2.3), and the bf16 curve is not the fp32 one (the products are rounded).
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)))
    func lossCurvesAgreeWithFP32() throws {
        let bf16 = try #require(Compute(path: .avx512bf16, threads: 2))
        let steps = 60
        let fp32Curve = try Self.lossCurve(bf16.fp32, steps: steps), bf16Curve = try Self.lossCurve(bf16, steps: steps)
        for (step, (a, b)) in zip(fp32Curve, bf16Curve).enumerated() {
            #expect(abs(a - b) <= 0.005 * a, "step \(step): fp32 loss \(a), bf16 loss \(b)")
        }
        #expect(fp32Curve != bf16Curve)
        let first = try #require(fp32Curve.first), last = try #require(bf16Curve.last)
        #expect(last < 0.5 * first, "bf16 training learned: loss \(first) -> \(last)")
    }

    /// A model shaped so the products are long enough for bf16 to show (d_model 64, MLP 256).
    static let mid = ModelConfig(vocabSize: 300, contextLength: 24, dModel: 64, heads: 4, layers: 2)

    /// On the bf16 path, what the estimators and samples read is fp32: `forward` (without
    /// `training:`) and `sample` give the same bits as on the fp32 AVX-512 path.
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)))
    func evaluationAndSamplingStayFP32() throws {
        let bf16 = try #require(Compute(path: .avx512bf16, threads: 2)), fp32 = try #require(Compute(path: .avx512, threads: 2))
        let a = testModel(Self.mid, seed: 31, compute: bf16), b = testModel(Self.mid, seed: 31, compute: fp32)
        let seqs = randomSequences(count: 6, lengths: 2...25, vocab: Self.mid.vocabSize, seed: 32)
        #expect(a.forward(seqs, entropy: true).logProbs == b.forward(seqs, entropy: true).logProbs)
        let opts = SamplingOptions(temperature: 1, maxNewTokens: 20)
        #expect(a.sample(prompts: [[256], [256, 70]], options: opts, seed: 5) == b.sample(prompts: [[256], [256, 70]], options: opts, seed: 5))
        // A training forward does round.
        #expect(a.forward(seqs, training: true).logProbs != b.forward(seqs, training: true).logProbs)
    }

    /// A method's step (an fp32 forward, then a backward with per-sequence coefficients and KL
    /// terms): the bf16 gradient is the fp32 one within 2% (relative L2 over all parameters;
    /// measured 0.57%: about 2^-8, the rounding of one operand).
    @Test(.enabled(if: bf16Supported, Comment(rawValue: needsBF16)))
    func gradientsAreCloseToFP32() throws {
        let bf16 = try #require(Compute(path: .avx512bf16, threads: 2))
        let seqs = randomSequences(count: 6, lengths: 2...25, vocab: Self.mid.vocabSize, seed: 33)
        let coefficients = Transformer.Coefficients(logProb: [0.9, -0.4, 0.3, 0.6, -0.2, 0.5], kl: [0.2, 0.5, -0.1, 0.3, 0.1, 0.2])
        func gradient(_ compute: Compute) -> [Double] {
            let model = testModel(Self.mid, seed: 34, compute: compute)
            let reference = testModel(Self.mid, seed: 35, compute: compute)
            _ = model.forward(seqs, reference: reference)
            model.zeroGrad()
            model.backward(coefficients)
            return model.grads.array.map(Double.init)
        }
        let exact = gradient(bf16.fp32), rounded = gradient(bf16)
        let err = relativeError(rounded, exact)
        #expect(err > 0 && err < 0.02, "relative error \(err)")
    }
}

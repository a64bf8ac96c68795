import Testing
@testable import TinyLM

/// The benchmark's code paths run and report consistent quantities (no timing is asserted:
/// speed is measured by `cpo-tui bench`, not by tests).
@Suite("benchmark plumbing")
struct BenchmarkTests {
    let cfg = ModelConfig(vocabSize: 300, contextLength: 16, dModel: 16, heads: 2, layers: 1)

    @Test func trainingReportsStepsAndPhases() throws {
        let r = try Benchmark.training(config: cfg, batch: 4, compute: Compute(threads: 2), minSteps: 3,
                                       minSeconds: 0, profile: true)
        #expect(r.steps >= 3)
        #expect(r.tokensPerSecond > 0 && r.tokensPerSecond.isFinite)
        #expect(abs(r.tokensPerSecond * r.medianStepSeconds - Double(4 * cfg.contextLength)) < 1e-6 * r.tokensPerSecond)
        #expect(Set(r.phaseSeconds.keys) == Set(StepPhase.allCases))
        #expect(r.phaseSeconds[.matmul]! > 0 && r.phaseSeconds[.optimizer]! > 0)
    }

    @Test func samplingCountsEveryGeneratedToken() throws {
        let rate = try Benchmark.sampling(config: cfg, batch: 3, newTokens: 5, compute: Compute(threads: 2), repeats: 1)
        #expect(rate > 0 && rate.isFinite)
        // newTokens is honoured exactly when EOS does not stop rows.
        let model = try Transformer(config: cfg, seed: 1)
        let out = model.sample(prompts: [[BPETokenizer.bos]], options: SamplingOptions(maxNewTokens: 5, stopAtEOS: false), seed: 1)
        #expect(out[0].generated.count == 5)
    }

    @Test func gemmShapesAreTheIssuesShapes() {
        #expect(GemmBenchmark.tinyShapes.map(\.name) == [
            "[2048x128]x[128x384]", "[2048x128]x[128x512]", "[2048x512]x[512x128]", "[128x2048]x[2048x384]",
        ])
        let small = GemmBenchmark.Shape(m: 8, n: 8, k: 8)
        #expect(GemmBenchmark.measure(small, compute: Compute(threads: 1), repeats: 1, batchSeconds: 0.001) > 0)
        #expect(Benchmark.peakResidentMB().map { $0 > 1 } ?? true)
    }
}

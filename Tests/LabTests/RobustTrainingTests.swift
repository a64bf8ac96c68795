import CausalPO
import CPOSupport
import Foundation
import Testing
import TinyLM
@testable import Lab

/// The robust objective (`--robust-lambda`) in training: it trains, changes what CPO and
/// DR-CPO learn, resumes exactly and is recorded with the run.
@Suite("the robust objective in training")
struct RobustTrainingTests {
    static func robustConfig(lambda: Double = 2) -> LabConfig {
        var cfg = tinyConfig(methods: [.ft, .cpo, .drCPO])
        cfg.objective.robustLambda = lambda
        return cfg
    }

    /// One epoch of CPO and DR-CPO with Λ = 2: finite losses, and other steps than Λ = 1 from
    /// the same start (the first step's loss is the batch's lower bound, below the plain value).
    @Test func itTrainsAndChangesTheSteps() throws {
        func steps(_ cfg: LabConfig) throws -> [Method: [StepRecord]] {
            let exp = try Experiment(config: cfg, seed: cfg.seed)
            try exp.prepare()
            for m in cfg.methods where m.trains { exp.step(m) }
            return exp.steps
        }
        let robust = try steps(Self.robustConfig()), plain = try steps(Self.robustConfig(lambda: 1))
        for m in [Method.cpo, .drCPO] {
            let r = try #require(robust[m]), p = try #require(plain[m])
            #expect(r.count == p.count && r.count >= 3, "\(m)")
            #expect(r.allSatisfy { $0.loss.isFinite && $0.gradNorm.isFinite }, "\(m)")
            #expect(r[0].loss > p[0].loss, "\(m): the worst case is below the value (the loss above)")
        }
    }

    /// Interrupted after an epoch and resumed, a robust run equals an uninterrupted one bit for
    /// bit (its configuration, Λ with it, read back from config.json); the report records Λ.
    @Test func resumeIsExact() throws {
        var cfg = Self.robustConfig()
        cfg.epochs = 2
        let (straight, _) = try expectExactResume(cfg, label: "resume-robust")

        // The report records the option: summary.json's config and report.md's config line.
        let writer = ReportWriter(config: cfg, data: straight.data, results: [SeedResult(straight)])
        let config = try #require(writer.summary()["config"] as? [String: Any])
        #expect(config["robust_lambda"] as? Double == 2)
        let md = writer.markdown()
        #expect(md.contains("Robust objective (`--robust-lambda 2`): CPO and DR-CPO trained on the worst case"))
        #expect(md.contains("DR-CPO: its residual term"))
    }

    /// Without the option the report's config line says nothing about it.
    @Test func aPlainRunHasNoRobustLine() throws {
        let run = try TinyReportRun.shared.get()
        #expect(run.writer.robustObjectiveLine == nil && !run.writer.markdown().contains("--robust-lambda"))
        #expect((run.writer.summary()["config"] as? [String: Any])?["robust_lambda"] as? Double == 1)
    }
}

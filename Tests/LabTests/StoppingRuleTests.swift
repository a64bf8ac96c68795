import CausalPO
import Foundation
import Testing
@testable import Lab

/// The stopping rule reads only what a run observes (the ESS of the held-out rows and f0
/// samples), and the report's by-epoch tables average each epoch over the seeds.
@Suite("stopping rule and by-epoch report")
struct StoppingRuleTests {
    /// An evaluation at `epoch` whose held-out weights have ESS `essRows` of 200 rows and whose f0
    /// weights have ESS `essSamples` of 400 samples, with a true gain `gain`.
    static func metrics(epoch: Int, essRows: Double, essSamples: Double = 400, gain: Double) -> EpochMetrics {
        // Equal weights on the first m rows and (practically) none on the others: ESS = m.
        let m = Int(essRows.rounded())
        let logW = (0..<200).map { $0 < m ? 0.0 : -60.0 }
        let e = Estimate(value: 50 + gain, standardError: 1)
        return EpochMetrics(
            method: .cpo, epoch: epoch, trainLoss: nil,
            estimates: Estimates([.ipw: e, .snipw: e, .dr: e, .out: e, .drResidual: Estimate(value: 0, standardError: 1)]),
            trueValue: e, normalizedGain: gain, invalidRate: 0.05, attributeShares: nil,
            winRateVsFT: Estimate(value: 0.5, standardError: 0.01), klToFT: Estimate(value: Double(epoch) / 2, standardError: 0.01),
            weights: Diagnostics.weightSummary(logP: logW, logPR: logW.map { _ in 0 }, batchSize: 32), samples: [], seconds: 1,
            f0Weights: EffectiveSampleSize(ess: essSamples, count: 400))
    }

    @Test func keepsTheLastEpochWhoseVDRIsReliable() throws {
        // 5% of 200 rows is 10 (also the floor): epochs 1-2 reliable, 3 not, 4 reliable again, 5 not.
        let run = [Self.metrics(epoch: 0, essRows: 200, gain: 0), Self.metrics(epoch: 1, essRows: 120, gain: 0.2),
                   Self.metrics(epoch: 2, essRows: 40, gain: 0.3), Self.metrics(epoch: 3, essRows: 8, gain: 0.5),
                   Self.metrics(epoch: 4, essRows: 12, gain: 0.1), Self.metrics(epoch: 5, essRows: 3, gain: 0.6)]
        #expect(run[3].reliability.isReliable(.dr) == false && run[4].reliability.isReliable(.dr))
        #expect(StoppingRule.chosen(run)?.epoch == 4)
        // The f0 samples count too: V_DR weights both.
        let f0Poor = [Self.metrics(epoch: 0, essRows: 200, gain: 0), Self.metrics(epoch: 1, essRows: 100, gain: 0.2),
                      Self.metrics(epoch: 2, essRows: 100, essSamples: 9, gain: 0.4)]
        #expect(StoppingRule.chosen(f0Poor)?.epoch == 1)
        // Nothing reliable after training: keep FT (epoch 0).
        let none = [Self.metrics(epoch: 0, essRows: 200, gain: 0), Self.metrics(epoch: 1, essRows: 5, gain: 0.7)]
        #expect(StoppingRule.chosen(none)?.epoch == 0)
        #expect(StoppingRule.chosen([]) == nil)
    }
}

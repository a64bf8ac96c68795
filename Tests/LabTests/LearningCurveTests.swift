import CausalPO
import Foundation
import Testing
@testable import Lab

/// Learning curves: one point per epoch, the epoch's own interval over one seed, the mean and a
/// t-interval over several.
@Suite("learning curves")
struct LearningCurveTests {
    typealias M = StoppingRuleTests

    @Test func oneSeedKeepsTheEpochsOwnInterval() throws {
        let run: [Method: [EpochMetrics]] = [.cpo: [M.metrics(epoch: 0, essRows: 200, gain: 0), M.metrics(epoch: 1, essRows: 100, gain: 0.25)]]
        let value = try #require(LearningCurve.curves(.value, runs: [run], methods: [.ft, .cpo], world: true).first)
        #expect(value.method == .cpo && value.points.map(\.epoch) == [0, 1])
        // The true value 50 + gain with SE 1: the estimate's own interval ±1.96.
        let p = value.points[1]
        #expect(abs(p.mean - 50.25) < 1e-12 && abs(p.upper - p.lower - 2 * 1.959964) < 1e-3 && p.seeds == 1)
        // The gain has no interval of its own; ESS is the fraction of 200.
        let gain = LearningCurve.curves(.gain, runs: [run], methods: [.cpo], world: true)[0]
        #expect(gain.points[1].mean == 0.25 && gain.points[1].lower.isNaN)
        let ess = LearningCurve.curves(.ess, runs: [run], methods: [.cpo], world: true)[0]
        #expect(abs(ess.points[1].mean - 0.5) < 1e-9)
        // Outside worlds the value is V_DR and there is no gain.
        #expect(CurveQuantity.shown(world: false) == [.value, .ess, .kl])
    }

    @Test func seedsAreAveragedWithATInterval() throws {
        let gains = [0.1, 0.3, 0.5]
        let runs: [[Method: [EpochMetrics]]] = gains.map { g in
            [.drCPO: [M.metrics(epoch: 0, essRows: 200, gain: 0), M.metrics(epoch: 1, essRows: 100, gain: g)]]
        }
        // A seed that stopped early does not count at the later epoch.
        let short: [Method: [EpochMetrics]] = [.drCPO: [M.metrics(epoch: 0, essRows: 200, gain: 0)]]
        let c = LearningCurve.curves(.gain, runs: runs + [short], methods: [.drCPO], world: true)[0]
        let p = c.points[1]
        #expect(p.seeds == 3 && abs(p.mean - 0.3) < 1e-12)
        // sd 0.2, n 3: half-width t(2) 4.303 x 0.2 / sqrt 3.
        #expect(abs((p.upper - p.lower) / 2 - 4.303 * 0.2 / 3.0.squareRoot()) < 1e-9)
        #expect(c.points[0].seeds == 4)
    }
}

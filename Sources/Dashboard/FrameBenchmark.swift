import CausalPO
import Foundation
import Lab
import OutcomeData

/// How long a frame takes to render: a synthetic snapshot the size of a long run (four methods,
/// ten epochs of 200 steps each, 300 generations, 2,000 training rows, a full message log)
/// drawn into a cell buffer, for `cpo-tui bench --frames`. Rendering is a pure function of
/// (snapshot, view state, size), so this is the whole cost of a frame but the terminal's writes.
public enum FrameBenchmark {
    /// One measured screen: a view at a size, and the render times in milliseconds.
    public struct Result: Sendable {
        public var name: String
        public var size: TerminalSize
        public var medianMS: Double
        public var p95MS: Double
        public var frames: Int
    }

    /// The screens measured: every view, and the dashboard with the learning curves and zoomed.
    public static func screens() -> [(name: String, view: ViewState)] {
        var dashboard = ViewState()
        dashboard.selectedMethod = 1
        var curves = dashboard
        curves.showCurves = true
        var zoomedLoss = dashboard
        zoomedLoss.focus = .loss
        zoomedLoss.zoomed = true
        var zoomedWeights = dashboard
        zoomedWeights.focus = .weights
        zoomedWeights.zoomed = true
        var compare = dashboard
        compare.view = .compare
        var data = dashboard
        data.view = .data
        return [("dashboard", dashboard), ("dashboard+curves", curves), ("zoomed loss", zoomedLoss),
                ("zoomed weights", zoomedWeights), ("compare", compare), ("data", data)]
    }

    /// Renders each screen at each size until `minSeconds` have passed (at least `minFrames`
    /// frames), and reports the median and 95th percentile.
    public static func run(sizes: [TerminalSize], minSeconds: Double = 0.5, minFrames: Int = 20,
                           snapshot: LabSnapshot = FrameBenchmark.snapshot()) -> [Result] {
        var results: [Result] = []
        for size in sizes {
            for (name, view) in screens() {
                var times: [Double] = []
                let start = DispatchTime.now().uptimeNanoseconds
                var checksum = 0
                while times.count < minFrames || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < minSeconds {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    let frame = DashboardView.render(snapshot, view, width: size.width, height: size.height)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                    checksum &+= frame.width   // keeps the render from being optimized away
                    if times.count >= 100_000 { break }
                }
                times.sort()
                results.append(Result(name: name, size: size, medianMS: times[times.count / 2],
                                      p95MS: times[min(times.count - 1, Int(Double(times.count) * 0.95))],
                                      frames: times.count + (checksum == -1 ? 1 : 0)))
            }
        }
        return results
    }

    /// A deterministic snapshot the size of a long run in a world.
    public static func snapshot(epochs: Int = 10, stepsPerEpoch: Int = 200, rows: Int = 2000, samples: Int = 300) -> LabSnapshot {
        var cfg = LabConfig()
        cfg.methods = [.ft, .ooRLHF, .cpo, .drCPO]
        func est(_ v: Double, _ se: Double) -> Estimate { Estimate(value: v, standardError: se) }
        let words = ["river", "clean-up", "Saturday", "neighbors", "gloves", "kids", "picnic", "urgent", "sign", "up", "today",
                     "the", "town", "needs", "you", "bring", "a", "friend", "spots", "left"]
        func text(_ i: Int, _ n: Int) -> String {
            (0..<n).map { words[(i * 7 + $0 * 3 + $0 * $0) % words.count] }.joined(separator: " ")
        }
        let attributes = ["urgency", "guilt", "festivity", "children"]
        func metrics(_ m: Method, _ epoch: Int, _ shift: Double) -> EpochMetrics {
            let s: Double = shift * Double(epoch)
            let lr: [Double] = (0..<500).map { (i: Int) -> Double in
                let x = Double(i)
                let a: Double = sin(x * 0.7) * (0.2 + s)
                return a + cos(x * 0.13) * s
            }
            var values: [Estimator: Estimate] = [:]
            values[.ipw] = est(54 + s, 1.5)
            values[.snipw] = est(54.2 + s, 1.4)
            values[.dr] = est(54.5 + s, 0.8)
            values[.out] = est(54.1 + s, 0.2)
            values[.drResidual] = est(0.4 - s, 0.7)
            var shares: [String: Double] = [:]
            for (k, a) in attributes.enumerated() { shares[a] = 0.1 * Double(k) + s / 10 }
            let texts: [GeneratedText] = (0..<8).map { (i: Int) -> GeneratedText in
                let ratio: Double = s - Double(i) / 10
                return GeneratedText(text: text(i + epoch, 14), score: 50 + Double(i), attributes: [attributes[i % 4]],
                                     invalidSegments: i % 5 == 0 ? ["staying home"] : [], logRatioToFT: ratio)
            }
            let trainLoss: Double? = epoch == 0 ? nil : -55 - s * 3
            return EpochMetrics(
                method: m, epoch: epoch, trainLoss: trainLoss, estimates: Estimates(values),
                trueValue: est(53.4 + 2 * s, 0.35), normalizedGain: s / 4, invalidRate: 0.07 + s / 20,
                attributeShares: shares, winRateVsFT: est(0.5 + s / 10, 0.03), klToFT: est(s / 2, 0.01),
                weights: Diagnostics.weightSummary(logP: lr, logPR: lr.map { _ in 0 }, batchSize: 32),
                samples: texts, seconds: 1.5)
        }
        let methods: [MethodSnapshot] = cfg.methods.enumerated().map { k, m in
            let shift = 0.1 * Double(k)
            let trained = m == .ft ? 0 : epochs
            let steps: [StepRecord] = m == .ft ? [] : (0..<(trained * stepsPerEpoch)).map { (i: Int) -> StepRecord in
                let x = Double(i)
                let loss: Double = -54 - shift * x / 100 - sin(x * 0.3)
                return StepRecord(step: i + 1, epoch: 1 + i / stepsPerEpoch, loss: loss, batchESSFraction: 0.8, clippedShare: 0,
                                  gradNorm: 1, skipped: false)
            }
            return MethodSnapshot(method: m, state: .idle, epoch: trained, steps: steps,
                                  epochs: (0...trained).map { metrics(m, $0, shift) })
        }
        let outcomes: [Double] = (0..<rows).map { (i: Int) -> Double in
            let wave: Double = 12 * sin(Double(i) * 0.37)
            return 50 + wave + Double(i % 7)
        }
        let preview: [OutcomeRow] = (0..<rows).map { (i: Int) -> OutcomeRow in
            let present: [Double] = attributes.indices.map { (k: Int) -> Double in Double((i >> k) & 1) }
            let logPropensity: Double = -30 - Double(i % 40)
            return OutcomeRow(text: text(i, 12 + i % 9), outcome: outcomes[i], logPropensity: logPropensity,
                              trait: i % 2 == 0 ? 1 : -1, attributes: present)
        }
        let generated: [GeneratedText] = (0..<samples).map { (i: Int) -> GeneratedText in
            let ratio: Double = Double(i % 9) / 10 - 0.4
            return GeneratedText(text: text(i, 10 + i % 12), score: 48 + Double(i % 15), attributes: [attributes[i % 4]],
                                 invalidSegments: [], logRatioToFT: ratio)
        }
        return LabSnapshot(
            config: cfg, seed: 0, phase: .idle, version: 1,
            messages: (0..<LabSnapshot.messageLimit).map { "CPO epoch \($0 % 10): V_DR 55.\($0), true value 54.\($0)" },
            sourceLabel: "world:river-cleanup", trainRows: rows, evalRows: 500, worldName: "river-cleanup",
            attributeNames: attributes, vStar: 63,
            ghatQuality: OutcomeModelQuality(metric: .r2, value: 0.2),
            attributeEffects: attributes.indices.map { i in
                AttributeEffect(attribute: i, naive: est(Double(i) - 1.5, 0.5), learned: est(Double(i) - 1, 0.1), truth: Double(i) - 1.2)
            },
            traitImbalance: attributes.indices.map { Double($0) / 5 },
            ftHistory: (1...6).map { FTEpoch(epoch: $0, trainLoss: 1 / Double($0), evalLoss: 1.1 / Double($0), seconds: 2) },
            trainOutcomes: outcomes, outcomeKind: .continuous,
            split: .init(seed: 0, evalFraction: 0.2, trainCount: rows, evalCount: 500, fromColumn: false),
            dataPreview: preview,
            dataCorrelations: DataCorrelations(attributeNames: attributes, attributeOutcome: [0.4, -0.3, 0.1, 0.2],
                                               attributeTrait: [0.05, 0.6, -0.1, 0], traitOutcome: -0.18),
            runDirectory: "runs/river-cleanup-seed0",
            methods: methods,
            generations: [.cpo: RequestedSamples(prefix: "", texts: generated)])
    }
}

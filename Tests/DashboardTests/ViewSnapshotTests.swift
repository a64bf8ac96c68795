import Foundation
import Testing
@testable import CausalPO
@testable import Dashboard
@testable import Lab

/// A fixed snapshot with every panel populated: three methods, two epochs, a world.
enum Fixture {
    static func estimate(_ v: Double, _ se: Double) -> Estimate { Estimate(value: v, standardError: se) }

    static func metrics(_ m: String, epoch: Int, shift: Double) -> EpochMetrics {
        let lr = (0..<200).map { sin(Double($0) * 0.7) * (0.2 + shift) }
        return EpochMetrics(
            method: m, epoch: epoch, trainLoss: epoch == 0 ? nil : -55 - shift * 3, vIPW: estimate(54 + shift, 1.5),
            vSNIPW: estimate(54.2 + shift, 1.4), vDR: estimate(54.5 + shift, 0.8), vOUT: estimate(54.1 + shift, 0.2),
            drResidual: estimate(0.4 - shift, 0.7), trueValue: estimate(53.4 + 2 * shift, 0.35),
            normalizedGain: shift / 4, invalidRate: 0.07 + shift / 20,
            attributeShares: ["urgency": 0.3, "guilt": 0.3 - shift / 10], winRateVsFT: estimate(0.5 + shift / 10, 0.03),
            klToFT: estimate(shift / 2, 0.01),
            weights: Diagnostics.weightSummary(logP: lr, logPR: lr.map { _ in 0 }, batchSize: 32),
            samples: [
                GeneratedText(text: "Forty of your neighbors have already signed up. Bring the kids; they love hunting for treasure.",
                              score: 59, attributes: ["neighbors", "children"], invalidSegments: [], logRatioToFT: shift),
                GeneratedText(text: "Staying home is a nature walk.", score: 45, attributes: [], invalidSegments: ["staying home is a nature walk"],
                              logRatioToFT: -0.5),
            ],
            seconds: 1.5)
    }

    static func method(_ m: Method, epochs: Int, shift: Double) -> MethodSnapshot {
        let steps = (0..<40).map { i in
            StepRecord(step: i + 1, epoch: 1 + i / 20, loss: -54 - shift * Double(i) / 10 - sin(Double(i)) , batchESSFraction: 0.8,
                       clippedShare: 0, gradNorm: 1, skipped: false)
        }
        return MethodSnapshot(method: m, state: .idle, epoch: epochs, steps: m == .ft ? [] : steps,
                              epochs: (0...epochs).map { metrics(m.rawValue, epoch: $0, shift: Double($0) * shift) },
                              skippedSteps: 0, lastEpochLogWeights: [])
    }

    static let snapshot: LabSnapshot = {
        var cfg = LabConfig()
        cfg.methods = [.ft, .cpo, .drCPO]
        let outcomes: [Double] = (0..<400).map { (i: Int) -> Double in
            let wave: Double = 12 * sin(Double(i) * 0.37)
            return 50 + wave + Double(i % 7)
        }
        let effects = [("urgency", 4.8, 2.2, 4.0, 0.04), ("guilt", 11.8, 6.1, -3.0, 0.9), ("festivity", -4.8, -1.0, 2.0, -0.5)]
        return LabSnapshot(
            config: cfg, seed: 0, phase: .idle, version: 7, messages: ["FT epoch 6: train loss 0.223", "ready"],
            sourceLabel: "world:river-cleanup", trainRows: 2000, evalRows: 500, worldName: "river-cleanup",
            attributeNames: effects.map(\.0), vStar: 63,
            ghatQuality: OutcomeModelQuality(metric: .r2, value: 0.034), ghatQualityVersusOutcomes: nil,
            attributeEffects: effects.enumerated().map { i, e in
                AttributeEffect(attribute: i, naive: estimate(e.1, 0.5), learned: estimate(e.2, 0.1), truth: e.3)
            },
            traitImbalance: effects.map(\.4),
            ftHistory: (1...6).map { FTEpoch(epoch: $0, trainLoss: 1 / Double($0), evalLoss: 1.1 / Double($0), seconds: 2) },
            trainOutcomes: outcomes,
            outcomeKind: "continuous",
            split: .init(seed: 0, evalFraction: 0.2, trainCount: 2000, evalCount: 500, fromColumn: false),
            methods: [method(.ft, epochs: 0, shift: 0), method(.cpo, epochs: 2, shift: 0.5), method(.drCPO, epochs: 2, shift: 0.6)],
            generations: [:])
    }()
}

/// Every view rendered as text and compared with a golden file in Golden/. To (re)record after
/// an intended change: CPO_RECORD_SNAPSHOTS=1 swift test --filter ViewSnapshotTests, then read
/// the diff of Golden/ before committing it.
@Suite("dashboard views as text")
struct ViewSnapshotTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let recording = ProcessInfo.processInfo.environment["CPO_RECORD_SNAPSHOTS"] == "1"

    func check(_ name: String, _ buffer: CellBuffer) throws {
        let text = buffer.plainText()
        let url = Self.golden.appendingPathComponent(name + ".txt")
        if Self.recording {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "\(name) differs from Golden/\(name).txt:\n\(text)")
    }

    static let sizes = [(120, 40), (80, 24)]

    @Test(arguments: [ViewKind.dashboard, .compare, .data])
    func viewsAtBothSizes(_ kind: ViewKind) throws {
        for (w, h) in Self.sizes {
            var v = ViewState()
            v.view = kind
            v.selectedMethod = 1
            try check("\(kind.rawValue)-\(w)x\(h)", DashboardView.render(Fixture.snapshot, v, width: w, height: h))
        }
    }

    @Test func helpOverlayZoomASCIIAndTooSmall() throws {
        var v = ViewState()
        v.showHelp = true
        try check("help-120x40", DashboardView.render(Fixture.snapshot, v, width: 120, height: 40))
        v.showHelp = false
        v.zoomed = true
        v.focus = .loss
        try check("zoomed-loss-80x24", DashboardView.render(Fixture.snapshot, v, width: 80, height: 24))
        v.zoomed = false
        v.glyphs = .ascii
        let ascii = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40)
        try check("dashboard-ascii-120x40", ascii)
        // ASCII mode is for terminals or fonts without box drawing, block elements and braille
        // (the letters of the notation, like ĝ and Σ, stay).
        let drawing = ascii.plainText().unicodeScalars.filter { (0x2190...0x21FF).contains($0.value) || (0x2500...0x259F).contains($0.value)
            || (0x2800...0x28FF).contains($0.value) || $0 == "⚠" }
        #expect(drawing.isEmpty, "ASCII mode drew \(String(String.UnicodeScalarView(drawing)))")
        let small = DashboardView.render(Fixture.snapshot, ViewState(), width: 60, height: 20).plainText()
        #expect(small.contains("terminal too small (60x20)") && small.contains("80x24"))
    }

    @Test func focusIsVisibleAndPreparationShowsProgress() {
        var v = ViewState()
        v.focus = .weights
        let b = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40)
        // The focused panel's border uses the focused style, the others the plain border.
        let weightsTop = (0..<b.height).first { y in b.line(y).contains("Weights") }!
        let x = b.line(weightsTop).firstIndex(of: "╭").map { b.line(weightsTop).distance(from: b.line(weightsTop).startIndex, to: $0) }!
        #expect(b[x, weightsTop].style == v.theme.focusedBorder)
        #expect(b[0, 1].style == v.theme.border)
        var preparing = Fixture.snapshot
        preparing.phase = .preparing(stage: .ft, fraction: 0.4, message: "FT step 50, loss 0.9")
        let p = DashboardView.render(preparing, ViewState(), width: 120, height: 40).plainText()
        #expect(p.contains("preparing: ft 40%") && p.contains("FT step 50"))
    }
}
